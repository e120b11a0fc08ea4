"""The Mastodon source's rules: streams to read, public statuses to keep, the state, the backoff schedule."""

from __future__ import annotations

from pathlib import Path

import requests
from mastodon.errors import MastodonNetworkError, MastodonRatelimitError

from schemas.watch import load_watch_config
from streams.core.matching import Matcher
from streams.sources.mastodon_rules import (
    Channel,
    channels_for,
    classify,
    describe,
    instance_host,
    overall_state,
    snowflake_at,
    wanted_filter,
    watched_hashtags,
)
from streams.sources.mastodon_status import status_to_post
from streams.sources.runtime import listen_targets
from tests.fakes.mastodon import make_status

REPO = Path(__file__).resolve().parents[4]
TOKEN = "s3cret-user-token-1234"


def test_watched_hashtags_from_the_watch_file():
    targets = listen_targets(load_watch_config(REPO / "config/watch.yaml"))
    assert watched_hashtags(targets) == ["nordair", "fjordbank", "skyline"]


def test_watched_hashtags_once_whatever_the_case():
    class T:
        def __init__(self, *tags):
            self.hashtags = tags

    assert watched_hashtags([T("nordair"), T("NordAir", "#fjordbank")]) == ["nordair", "fjordbank"]


def test_channels():
    assert [c.name for c in channels_for(["nordair"], public=True)] == ["hashtag:nordair", "public"]
    assert [c.name for c in channels_for(["nordair"], public=False)] == ["hashtag:nordair"]


def test_since_is_the_newer_of_the_channels_newest_and_its_mark():
    assert Channel("x", newest="120", mark="100").since() == "120"
    assert Channel("x", newest=None, mark="100").since() == "100"
    assert Channel("x").since() is None


def test_overall_state_is_the_worst_stream():
    a, b = Channel("hashtag:nordair", state="connected"), Channel("public", state="connected")
    assert overall_state([a, b]) == ("connected", "")
    b.state, b.detail = "backoff", "public: refused; again in 4 s"
    assert overall_state([a, b]) == ("backoff", "public: refused; again in 4 s")
    a.state, a.detail = "rate_limited", "hashtag:nordair: 429"
    assert overall_state([a, b])[0] == "rate_limited"


def test_classify_errors():
    assert classify(MastodonRatelimitError("x")) == "rate_limited"
    assert classify(MastodonNetworkError("Could not connect to streaming server: Service Unavailable")) == "http"
    assert classify(MastodonNetworkError("Could not connect to streaming server: Too Many Requests")) == (
        "rate_limited"
    )
    assert classify(requests.ConnectionError("refused")) == "network"
    assert classify(MastodonNetworkError("Server ceased communication.")) == "network"


def test_describe_never_shows_a_secret():
    text = describe(RuntimeError(f"bad header Bearer {TOKEN}"), (TOKEN,))
    assert TOKEN not in text and "***" in text


def test_instance_host_has_no_credentials_or_port():
    assert instance_host("https://user:pw@mastodon.social:443/") == "mastodon.social"


def test_public_filter_keeps_watched_things_only():
    watch = load_watch_config(REPO / "config/watch.yaml")
    wanted = wanted_filter(Matcher(watch), ["nordair"])

    def keep(status):
        return wanted(status_to_post(status, "m.example"), status)

    assert keep(make_status("1", "<p>Fjordbank app down again</p>"))
    assert keep(make_status("2", "<p>cc @ingrid_news</p>", username="x"))
    assert keep(make_status("3", "<p>photo</p>", tags=("NordAir",)))  # the tag, though not in the text
    assert not keep(make_status("4", "<p>the city skyline at night</p>"))


def test_snowflake_of_a_moment():
    assert snowflake_at(1_700_000_000) == "111411200000000000"
    assert int(snowflake_at(1_700_000_001)) > int(snowflake_at(1_700_000_000)) + 65535
