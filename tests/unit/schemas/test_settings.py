from schemas.settings import Settings


def test_lytte_variables_are_read(monkeypatch):
    monkeypatch.setenv("LYTTE_KAFKA_BOOTSTRAP", "10.0.0.1:9092")
    monkeypatch.setenv("LYTTE_PARTITIONS", "8")
    s = Settings()
    assert s.bootstrap == "10.0.0.1:9092" and s.partitions == 8


def test_bare_faust_variables_change_nothing(monkeypatch):
    monkeypatch.setenv("BROKER_URL", "kafka://evil:9092")
    monkeypatch.setenv("APP_STORE", "rocksdb://")
    monkeypatch.setenv("APP_ENV_PREFIX", "")
    from schemas.watch import load_watch_config
    from streams.agents.app import create_app

    app = create_app(Settings(kafka_bootstrap="127.0.0.1:1"), load_watch_config("config/watch.yaml"))
    assert [str(u) for u in app.conf.broker] == ["kafka://127.0.0.1:1"]
    assert str(app.conf.store) == "memory:"


def test_local_defaults_when_nothing_is_configured(monkeypatch):
    for name in ("LYTTE_KAFKA_BOOTSTRAP", "LYTTE_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    s = Settings(kafka_port=19092, redis_port=16379)
    assert s.bootstrap == "127.0.0.1:19092"
    assert s.redis == "redis://127.0.0.1:16379/0"


def test_kafka_home_is_read_with_or_without_the_prefix(monkeypatch, tmp_path):
    monkeypatch.delenv("LYTTE_KAFKA_HOME", raising=False)
    monkeypatch.setenv("KAFKA_HOME", str(tmp_path))
    assert Settings().kafka_home == tmp_path
    monkeypatch.setenv("LYTTE_KAFKA_HOME", str(tmp_path / "mine"))
    assert Settings().kafka_home == tmp_path / "mine"
    assert Settings(kafka_home=tmp_path / "x").kafka_home == tmp_path / "x"
