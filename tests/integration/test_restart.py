"""kill -9 of a worker in the middle of a stream: after a restart every count is exact."""

from __future__ import annotations

import pytest

from tests.fixtures.workers import counters, metrics_topic_counts, read_topic, redis_bucket_counts, wait_until
from tests.integration.test_pipeline import expected_counts, produce, synth_posts

pytestmark = pytest.mark.integration


def _offsets(settings) -> str:
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
    committed = {
        f"{tp.topic[-6:]}:{tp.partition}": m.offset
        for tp, m in admin.list_group_offsets(settings.app_id)[settings.app_id].items()
    }
    admin.close()
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap)
    tps = [TopicPartition(f"{settings.app_id}-buckets-changelog", p) for p in range(settings.partitions)]
    ends = {tp.partition: o for tp, o in consumer.end_offsets(tps).items()}
    consumer.close()
    return f"committed {committed}; buckets changelog ends {ends}"


def _where_lost(settings, watch_config, posts) -> str:
    """For a failure message: are the uncounted posts missing from posts.scored, or only from the buckets?"""
    from collections import Counter

    from schemas.records import ScoredPost
    from schemas.topics import Topic
    from streams.core.matching import Matcher

    scored = Counter()
    for record in read_topic(settings, Topic.POSTS_SCORED.name(settings.topic_prefix)):
        sp = ScoredPost.model_validate_json(record.value)
        scored[(sp.post.id, sp.brand)] += 1
    matcher = Matcher(watch_config)
    wanted = {(p.id, m.brand) for p in posts for m in matcher.brands(p.text)}
    never_scored = sorted(k for k in wanted if k not in scored)
    # the whole scored log, folded into partial buckets as the agent folds posts, in log order, then merged
    from schemas.records import merge_partials
    from streams.core.aggregate import bucket_key, bucket_start, step

    states = {}
    for record in read_topic(settings, Topic.POSTS_SCORED.name(settings.topic_prefix)):
        sp = ScoredPost.model_validate_json(record.value)
        key = bucket_key(sp.brand, bucket_start(sp.post.created_at), sp.evidence.raw_partition)
        states[key], _ = step(states.get(key), sp, False)
    folded = {f"{m.brand}@{m.bucket_start:%H:%M}": m.posts for m in merge_partials(s.metrics for s in states.values())}
    return f"{len(never_scored)} matched posts never reached posts.scored: {never_scored[:10]}; folded log: {folded}"


def test_kill_9_mid_stream_loses_nothing_and_counts_nothing_twice(services_settings, spawn, redis_client, watch_config):
    settings = services_settings.model_copy(update={"commit_interval_s": 2.0})
    posts = synth_posts(watch_config, 4000, seed=11)
    expected = expected_counts(watch_config, posts)
    brands = sorted({b for b, _ in expected})

    first = spawn(settings, "worker", "--loglevel", "info")
    produce(settings, posts)
    # Kill while the worker is still busy: it has applied some posts and not yet committed all of them.
    wait_until(
        lambda: counters(redis_client, settings)["posts_in"] >= len(posts) // 4, 120, "a quarter processed", first
    )
    first.kill9()
    at_kill = counters(redis_client, settings)["posts_in"]
    snapshot = _offsets(settings)
    assert at_kill < len(posts), "the worker finished before it was killed: the test proves nothing"

    second = spawn(settings, "worker", "--loglevel", "info")
    wait_until(
        lambda: counters(redis_client, settings)["posts_in"] == len(posts), 180, "all posts after restart", second
    )
    try:
        wait_until(
            lambda: redis_bucket_counts(redis_client, settings, brands) == dict(expected),
            60,
            "exact Redis buckets after restart",
            second,
        )
    except AssertionError:
        got = redis_bucket_counts(redis_client, settings, brands)
        diff = {k: (got.get(k), expected.get(k)) for k in set(got) | set(expected) if got.get(k) != expected.get(k)}
        raise AssertionError(
            f"(got, expected) per bucket: {diff}; {_where_lost(settings, watch_config, posts)}; at kill: {snapshot}"
        ) from None
    assert metrics_topic_counts(settings) == dict(expected)
    assert counters(redis_client, settings)["scored_records"] == sum(expected.values())
