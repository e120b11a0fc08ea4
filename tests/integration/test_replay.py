"""`lytte ingest replay` of the real airline tweets through a real worker."""

from __future__ import annotations

import pytest

from schemas.watch import load_watch_config
from streams.core.matching import Matcher
from streams.sources.replay import read_posts
from tests.fixtures.factories import AIRLINE_TWEETS, REPO
from tests.fixtures.workers import counters, metrics_topic_counts, redis_bucket_counts, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not AIRLINE_TWEETS.exists(), reason="../shared/data/airline/Tweets.csv is absent"),
]

LIMIT = 1000


def test_replaying_the_airline_csv_counts_every_matched_tweet(services_settings, spawn, redis_client):
    config = REPO / "config" / "airlines.yaml"
    # the replay keeps the tweets' own minutes (17 hours of them): keep them all in the view
    settings = services_settings.model_copy(update={"watch_config": config, "redis_buckets_kept": 2000})
    watch = load_watch_config(config)
    posts = read_posts(AIRLINE_TWEETS)[:LIMIT]
    matcher = Matcher(watch)
    expected = sum(len(matcher.brands(p.text)) for p in posts)
    minutes = {(m.brand, int(p.created_at.timestamp()) // 60) for p in posts for m in matcher.brands(p.text)}
    brands = [w.id for w, _ in watch.watched()]

    worker = spawn(settings, "worker")
    # The first 1,000 tweets span 17 hours; at 6000x they arrive in about 10 s, the last one dated now.
    replay = spawn(
        settings, "ingest", "replay", str(AIRLINE_TWEETS), "--speed", "6000", "--limit", str(LIMIT), name="replay"
    )
    assert replay.proc.wait(120) == 0, replay.output()
    assert f"sent {LIMIT} posts" in replay.output()

    wait_until(lambda: counters(redis_client, settings)["posts_in"] == LIMIT, 90, "every tweet counted", worker)
    wait_until(
        lambda: sum(redis_bucket_counts(redis_client, settings, brands).values()) == expected,
        60,
        "every matched tweet in a bucket",
        worker,
    )
    assert counters(redis_client, settings)["deadlettered"] == 0
    buckets = redis_bucket_counts(redis_client, settings, brands)
    assert metrics_topic_counts(settings) == buckets
    assert len(buckets) == len(minutes), "each brand's tweets in as many minute buckets as they were written in"
