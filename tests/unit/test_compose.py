"""docker-compose.yml cannot run here (no Docker engine), so it is checked against the settings and CLI."""

from pathlib import Path

import pytest
import yaml

from schemas.settings import Settings
from streams.cli import build_parser
from streams.local.kafka.launcher import KAFKA_VERSION

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
LYTTE_SERVICES = ["topics", "worker", "dashboard", "synth"]


def test_services_are_the_stack():
    assert set(SERVICES) == {"kafka", "redis", *LYTTE_SERVICES}


def test_kafka_is_the_version_the_launcher_runs():
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"
    assert SERVICES["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


@pytest.mark.parametrize("service", LYTTE_SERVICES)
def test_lytte_services_use_real_settings_and_commands(service):
    spec = SERVICES[service]
    env = spec["environment"]
    fields = {f"LYTTE_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= fields, f"unknown variables: {set(env) - fields}"
    settings = Settings(**{k.removeprefix("LYTTE_").lower(): v for k, v in env.items()})
    host, port = settings.bootstrap.split(":")
    assert host == "kafka" and f"PLAINTEXT://:{port}" in SERVICES["kafka"]["environment"]["KAFKA_LISTENERS"]
    assert settings.redis == "redis://redis:6379/0"
    assert settings.topic_prefix == Settings().topic_prefix
    build_parser().parse_args(spec["command"])  # exits on an unknown command


def test_dashboard_port_is_published():
    env = SERVICES["dashboard"]["environment"]
    port = env["LYTTE_DASHBOARD_PORT"]
    assert f"{port}:{port}" in SERVICES["dashboard"]["ports"]
    assert env["LYTTE_DASHBOARD_HOST"] == "0.0.0.0"


def test_redis_is_published_on_the_embedded_port():
    assert f"{Settings.model_fields['redis_port'].default}:6379" in SERVICES["redis"]["ports"]


def test_dockerfile_copies_what_exists():
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), source


def test_as_many_workers_as_lytte_up_starts():
    from streams.local.stack import WORKERS

    assert SERVICES["worker"]["deploy"]["replicas"] == WORKERS
