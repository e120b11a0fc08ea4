"""`lytte sentiment correct` against the real Kafka and Redis: the post is found in the brand's live view, the
action lands on the actions topic with what the worker needs, and a post that is not there needs its old label
and time by hand. With a real worker, the correction changes the counts the view shows and the rules read."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import jsonschema
import pytest

from schemas.alerts import Action, SentimentCorrection
from schemas.json_schema import SCHEMA_DIR
from schemas.records import Evidence, ScoredPost
from schemas.redis_keys import RedisKeys
from schemas.topics import Topic
from streams.agents.redis_sink import display_post
from streams.sentiment.router import SentimentRouter
from tests.fixtures.workers import counters, read_topic, wait_until

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


def test_a_correction_changes_what_the_view_shows_and_the_rules_read(
    services_settings, redis_client, spawn, post_factory
):
    """A positive post counted by a real worker; the operator says negative: the worker's bucket moves it, so
    the Redis view (the tile's net sentiment and negative share), the metrics topic and the alert engine's signal
    all count it as negative, once, and the post's own line in the view keeps where it was counted."""
    from schemas.records import BucketMetrics, merge_partials
    from schemas.signals import Signal
    from tests.integration.test_pipeline import produce

    settings = services_settings
    keys = RedisKeys(settings.redis_prefix)
    post = post_factory(TEXT, created_at=datetime.now(UTC).replace(microsecond=0))
    worker = spawn(settings, "worker")
    produce(settings, [post])
    wait_until(lambda: redis_client.zcard(keys.latest("nordair")) == 1, 120, "the post in the view", worker)
    (entry,) = redis_client.zrange(keys.latest("nordair"), 0, -1)
    assert json.loads(entry)["raw_partition"] in range(settings.partitions)

    def view() -> BucketMetrics:
        partials = [BucketMetrics.model_validate_json(v) for v in redis_client.hvals(keys.buckets("nordair"))]
        (merged,) = merge_partials(partials)
        return merged

    assert (view().positive, view().negative) == (1, 0)

    code, out = run(spawn, settings, post.id, "--brand", "nordair", "--label", "negative", "--by", "ana")
    assert code == 0, out
    assert "the view and the rules count it as corrected" in out
    wait_until(lambda: view().negative == 1, 60, "the corrected label in the view", worker)
    merged = view()
    assert (merged.posts, merged.positive, merged.negative) == (1, 0, 1)
    assert [t.label for t in merged.top_posts] == ["negative"]
    wait_until(lambda: counters(redis_client, settings)["corrections"] == 1, 30, "the correction counted", worker)
    assert counters(redis_client, settings)["posts_in"] == 1, "a correction is not a post in"

    metrics = [
        BucketMetrics.model_validate_json(r.value)
        for r in read_topic(settings, Topic.METRICS.name(settings.topic_prefix))
    ]
    assert [(m.positive, m.negative) for m in metrics][-1] == (0, 1)
    signals = [
        Signal.model_validate_json(r.value) for r in read_topic(settings, Topic.SIGNALS.name(settings.topic_prefix))
    ]
    last = [m for s in signals for m in s.partials if m.brand == "nordair"][-1]
    assert (last.posts, last.positive, last.negative) == (1, 0, 1), "the alert engine reads the corrected counts"


def test_the_worker_learns_a_brands_adjustment_from_its_corrections(
    services_settings, redis_client, spawn, post_factory
):
    """Twenty corrections of nordair posts that read "lovely" as sarcasm: the worker trains nordair's adjustment
    and scores the next such post negative, with the adjusted model's name; a competitor's post keeps the base."""
    from streams import alerts_admin
    from streams.sentiment.adjust import MIN_CORRECTIONS
    from tests.integration.test_pipeline import produce

    settings = services_settings
    worker = spawn(settings, "worker")
    now = datetime.now(UTC).replace(microsecond=0)
    for i in range(MIN_CORRECTIONS):
        text = f"@nordair a lovely flight number {i}"
        correction = SentimentCorrection(
            post_id=f"x:{i}", brand="nordair", created_at=now, old_label="positive", new_label="negative", text=text
        )
        alerts_admin.write_action(
            settings,
            Action(id=f"a{i}", kind="correct_sentiment", at=now, by="ana", brand="nordair", correction=correction),
        )
    base = SentimentRouter.default().score("what a lovely flight", "en")
    adjusted_model = f"{base.model}+adjust-{MIN_CORRECTIONS}"

    def scored() -> dict[str, list]:
        out: dict[str, list] = {}
        for r in read_topic(settings, Topic.POSTS_SCORED.name(settings.topic_prefix)):
            s = ScoredPost.model_validate_json(r.value)
            out.setdefault(s.brand, []).append(s.sentiment)
        return out

    def probe() -> bool:  # the worker learns within a few seconds: a post until one is scored adjusted
        produce(settings, [post_factory("@nordair what a lovely flight")])
        time.sleep(1)
        return any(s.model == adjusted_model for s in scored().get("nordair", []))

    wait_until(probe, 90, "a nordair post scored by the adjustment", worker)
    produce(settings, [post_factory("@skylineair what a lovely flight")])
    wait_until(lambda: "skyline" in scored(), 60, "the skyline post scored", worker)
    adjusted = [s for s in scored()["nordair"] if s.model == adjusted_model]
    assert adjusted and all(s.label == "negative" for s in adjusted) and base.label == "positive"
    assert [(s.label, s.model) for s in scored()["skyline"]] == [("positive", base.model)]
