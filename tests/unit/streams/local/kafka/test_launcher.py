import base64

import pytest

from streams.local.kafka import launcher
from streams.local.kafka.launcher import classpath, fetch_jars, new_cluster_id
from streams.local.processes import ServiceError


def test_cluster_ids_are_16_bytes_in_base64url():
    for _ in range(200):
        cid = new_cluster_id()
        assert len(cid) == 22
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16


def test_a_kafka_home_without_libs_is_one_clear_line(tmp_path):
    with pytest.raises(ServiceError, match=r"KAFKA_HOME=.* has no libs/ folder"):
        classpath(tmp_path / "cache", tmp_path)
    (tmp_path / "libs").mkdir()
    assert classpath(tmp_path / "cache", tmp_path) == f"{tmp_path / 'libs'}/*"


def test_missing_java_or_maven_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(launcher.shutil, "which", lambda name: None)
    with pytest.raises(ServiceError, match=r"java not found: .*apt-get install openjdk-17"):
        launcher._require_java()
    with pytest.raises(ServiceError, match=r"mvn not found: .*apt-get install maven.*LYTTE_KAFKA_HOME"):
        fetch_jars(tmp_path)
