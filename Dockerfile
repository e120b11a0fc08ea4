# The lytte image: worker, dashboard and sources (`lytte <command>`). Kafka and Redis come from their
# official images (docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas schemas
COPY streams streams
COPY dashboards dashboards
COPY config config
RUN pip install --no-cache-dir .
ENV LYTTE_WATCH_CONFIG=/app/config/watch.yaml
ENTRYPOINT ["lytte"]
CMD ["--help"]
