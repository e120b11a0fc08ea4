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


def test_dashboard_is_published_on_the_hosts_loopback_only():
    env = SERVICES["dashboard"]["environment"]
    port = env["LYTTE_DASHBOARD_PORT"]
    assert SERVICES["dashboard"]["ports"] == [f"127.0.0.1:{port}:{port}"]
    # inside its container it must listen beyond the container's loopback, or the published port reaches nothing
    assert env["LYTTE_DASHBOARD_HOST"] == "0.0.0.0"


def test_kafka_and_redis_are_not_published():
    assert "ports" not in SERVICES["kafka"]
    assert "ports" not in SERVICES["redis"]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_nothing_is_published_on_all_interfaces(service):
    for entry in SERVICES[service].get("ports", []):
        spec = entry if isinstance(entry, str) else f"{entry.get('host_ip', '')}:{entry['published']}:"
        assert spec.startswith("127.0.0.1:"), f"{service} publishes {entry} beyond the host's loopback"


def _required_variable(value: str, name: str) -> None:
    """`value` is compose's `${NAME:?message}`: the variable, and `docker compose` refuses to start without it."""
    assert value.startswith(f"${{{name}:?") and value.endswith("}"), value


def test_redis_wants_the_password_the_lytte_services_are_given():
    command = SERVICES["redis"]["command"]
    assert command[0] == "redis-server"
    _required_variable(command[command.index("--requirepass") + 1], "LYTTE_REDIS_PASSWORD")
    _required_variable(SERVICES["redis"]["environment"]["REDISCLI_AUTH"], "LYTTE_REDIS_PASSWORD")  # its healthcheck
    for service in LYTTE_SERVICES:
        _required_variable(SERVICES[service]["environment"]["LYTTE_REDIS_PASSWORD"], "LYTTE_REDIS_PASSWORD")


def test_no_secret_is_written_in_the_file():
    for service, spec in SERVICES.items():
        for name, value in (spec.get("environment") or {}).items():
            if "PASSWORD" in name or "SECRET" in name or name == "REDISCLI_AUTH":
                assert str(value).startswith("${"), f"{service}.{name} is written in the file"


def test_services_using_redis_wait_until_it_answers():
    assert SERVICES["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    for service in ("worker", "dashboard"):
        assert SERVICES[service]["depends_on"]["redis"] == {"condition": "service_healthy"}


def test_dockerfile_copies_what_exists():
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), source


def test_as_many_workers_as_lytte_up_starts():
    from streams.local.stack import WORKERS

    assert SERVICES["worker"]["deploy"]["replicas"] == WORKERS
