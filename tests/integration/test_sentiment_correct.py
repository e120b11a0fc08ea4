"""`lytte sentiment correct` against the real Kafka and Redis: the post is found in the brand's live view, the
action lands on the actions topic with what the worker needs, and a post that is not there needs its old label
and time by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema
import pytest

from schemas.alerts import Action
from schemas.json_schema import SCHEMA_DIR
from schemas.records import Evidence, ScoredPost
from schemas.redis_keys import RedisKeys
from schemas.topics import Topic
from streams.agents.redis_sink import display_post
from streams.sentiment.router import SentimentRouter
from tests.fixtures.workers import read_topic

pytestmark = pytest.mark.integration

TEXT = "@nordair thanks for the lovely crew and a smooth flight home"


def actions(settings) -> list[Action]:
    records = read_topic(settings, Topic.ACTIONS.name(settings.topic_prefix))
    return [Action.model_validate_json(r.value) for r in records if r.value is not None]


def run(spawn, settings, *args: str) -> tuple[int, str]:
    child = spawn(settings, "sentiment", "correct", *args, name="correct")
    return child.proc.wait(60), child.output()


def test_a_post_in_the_live_view_is_corrected_with_its_time_label_text_and_model(
    services_settings, redis_client, spawn, post_factory
):
    settings = services_settings
    created = datetime(2026, 12, 7, 4, 0, 12, tzinfo=UTC)
    post = post_factory(TEXT, created_at=created)
    sentiment = SentimentRouter.default().score(TEXT, "en")
    assert sentiment.label == "positive"
    scored = ScoredPost(
        post=post,
        brand="nordair",
        brand_role="brand",
        language="en",
        sentiment=sentiment,
        evidence=Evidence(raw_partition=0, raw_offset=7, raw_timestamp_ms=0),
    )
    other = post_factory("another post", created_at=created)
    latest = RedisKeys(settings.redis_prefix).latest("nordair")
    redis_client.zadd(latest, {b"not json": 0, display_post(scored): created.timestamp(), other.id: 1})

    code, out = run(
        spawn, settings, post.id, "--brand", "nordair", "--label", "negative", "--by", "ana", "--reason", "sarcasm"
    )
    assert code == 0, out
    assert f"nordair {post.id} positive -> negative" in out and "by ana" in out

    (action,) = actions(settings)
    assert (action.kind, action.brand, action.by, action.reason) == ("correct_sentiment", "nordair", "ana", "sarcasm")
    c = action.correction
    assert c is not None
    assert (c.post_id, c.brand, c.created_at, c.old_label, c.new_label) == (
        post.id,
        "nordair",
        created,
        "positive",
        "negative",
    )
    assert (c.model, c.language, c.old_compound, c.text) == (sentiment.model, "en", sentiment.compound, TEXT)
    assert abs((action.at - datetime.now(UTC)).total_seconds()) < 120


def test_a_post_gone_from_the_view_needs_its_old_label_and_time(services_settings, spawn):
    settings = services_settings
    code, out = run(spawn, settings, "synth:gone-1", "--brand", "nordair", "--label", "neutral")
    assert code == 2
    assert "not among nordair's latest posts" in out and "--old-label and --created-at" in out
    assert len(out.strip().splitlines()) == 1, out
    assert actions(settings) == []

    code, out = run(
        spawn,
        settings,
        "synth:gone-1",
        "--brand",
        "nordair",
        "--label",
        "neutral",
        "--old-label",
        "negative",
        "--created-at",
        "2015-02-24 11:35:52 -0800",
        "--by",
        "bo",
    )
    assert code == 0, out
    (action,) = actions(settings)
    c = action.correction
    assert c is not None
    assert (c.old_label, c.new_label, c.created_at) == (
        "negative",
        "neutral",
        datetime(2015, 2, 24, 19, 35, 52, tzinfo=UTC),
    )
    assert (c.model, c.language, c.text, action.by) == (None, None, None, "bo")


def test_with_redis_down_it_says_so_and_takes_the_post_by_hand(services_settings, spawn):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = services_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"})
    code, out = run(spawn, settings, "synth:p1", "--brand", "nordair", "--label", "negative")
    assert code == 2
    assert "the live view (Redis) did not answer" in out and "--old-label and --created-at" in out

    by_hand = ("--old-label", "positive", "--created-at", "2026-12-07T04:00:00Z", "--text", "thanks for nothing")
    code, out = run(spawn, settings, "synth:p1", "--brand", "nordair", "--label", "negative", *by_hand)
    assert code == 0, out
    (action,) = actions(settings)
    assert action.correction is not None and action.correction.text == "thanks for nothing"
    schema = json.loads((SCHEMA_DIR / "action.v1.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(json.loads(action.model_dump_json()))
