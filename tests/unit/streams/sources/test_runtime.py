"""The sources' common ground without services: the minute rate, what to listen for, secrets from files."""

import pytest

from schemas.settings import Settings
from schemas.watch import WatchConfig
from streams.sources.runtime import MinuteRate, Target, listen_targets


def test_the_minute_rate_counts_the_last_60_seconds_only():
    rate = MinuteRate()
    rate.add(0, 3)
    rate.add(30_000, 2)
    assert rate.count(59_000) == 5
    assert rate.count(61_000) == 2
    assert rate.count(95_000) == 0
    for ms in range(0, 600_000, 10):  # 100 events a second for 10 minutes: the slots stay bounded
        rate.add(ms)
    assert rate.count(599_999) == 6000 and len(rate._slots) <= 61


def test_listen_targets_come_from_the_watch_configuration():
    watch = WatchConfig.model_validate(
        {
            "brands": [
                {
                    "id": "nordair",
                    "name": "Nordair",
                    "aliases": ["Nord Air", "Nordair"],
                    "handles": ["@nordair"],
                    "hashtags": ["#nordair"],
                }
            ],
            "competitors": [{"id": "skyline", "name": "Skyline"}],
            "key_people": [{"handle": "@janedoe", "label": "journalist"}],
        }
    )
    assert listen_targets(watch) == [
        Target("nordair", "brand", ("Nordair", "Nord Air"), ("nordair",), ("nordair",)),
        Target("skyline", "competitor", ("Skyline",), (), ()),
        Target("janedoe", "key_person", (), ("janedoe",), ()),
    ]


def test_a_secret_comes_from_the_environment_or_a_file_and_is_never_in_the_repr(tmp_path, monkeypatch):
    secret_file = tmp_path / "x_token"
    secret_file.write_text("from-a-file\n")
    monkeypatch.setenv("LYTTE_X_BEARER_TOKEN_FILE", str(secret_file))
    settings = Settings(_env_file=None)
    assert settings.secret("x_bearer_token") == "from-a-file"
    monkeypatch.setenv("LYTTE_X_BEARER_TOKEN", "from-the-env")
    settings = Settings(_env_file=None)
    assert settings.secret("x_bearer_token") == "from-the-env"
    assert "from-the-env" not in repr(settings) and "from-the-env" not in str(settings)
    assert (
        Settings(_env_file=None, x_bearer_token=None, x_bearer_token_file=None).secret("mastodon_access_token") is None
    )
    monkeypatch.setenv("LYTTE_META_APP_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="LYTTE_META_APP_SECRET_FILE: cannot read"):
        Settings(_env_file=None).secret("meta_app_secret")
