"""LYTTE_KAFKA_HOME / KAFKA_HOME: a Kafka distribution's libs/ folder instead of the Maven jars."""

from __future__ import annotations

import shutil

import pytest

from schemas.settings import Settings
from streams.local.kafka.launcher import KafkaBroker, fetch_jars
from streams.local.processes import free_port

pytestmark = pytest.mark.integration


def test_the_broker_runs_from_a_distribution_folder(tmp_path, kafka_broker):
    distribution = tmp_path / "kafka_2.13-dist"
    shutil.copytree(fetch_jars(Settings().cache_dir), distribution / "libs")  # what a distribution's libs/ holds
    broker = KafkaBroker(
        tmp_path / "home", free_port(), free_port(), tmp_path / "empty-cache", distribution, heap="384m"
    )
    try:
        broker.start(timeout=120)
    finally:
        broker.stop()
    assert not (tmp_path / "empty-cache").exists(), "Maven must not have been used"
