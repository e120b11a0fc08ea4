"""fuzz: 10,000 hostile records mixed into 20,000 good posts, with exact repeats and redeliveries
(`streams.faults.fuzz.mixed_stream`): every rejected record lands in the deadletter topic with its reason,
every good post is counted once, and the worker never stops."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from schemas import topics
from schemas.records import Post
from schemas.topics import Topic
from streams.faults.fuzz import good_post, mixed_stream
from tests.faults.harness import Feeder, expected_counts, expected_duplicates, ready, settle, wait
from tests.fixtures.workers import read_topic

pytestmark = pytest.mark.faults

N_GOOD, N_BAD, SEED = 20_000, 10_000, 2026
#: The generator dates records relative to `now`. Whether a record dated ahead is rejected depends on when the
#: worker reads it: with `now` a minute ahead of the clock, "just over the future skew" (now + 6 min) stays
#: rejected and "4 minutes ahead" stays accepted while they are handled within two minutes of generation.
#: They go first in the stream, so they are.
CLOCK_MARGIN = timedelta(seconds=60)
#: The generator's notion of the maximum post age (7 days, the README's default); Settings say 2 days.
MAX_AGE_S = 7 * 24 * 3600


def reference_post(raw: bytes) -> Post:
    """The schema's reading of a record the generator says must be accepted (no intake, no limits)."""
    return Post.model_validate(orjson.loads(raw))


def clock_dependent(item) -> bool:
    return item.category == "date_out_of_range" and ("future skew" in item.detail or "ahead" in item.detail)


def primers(now: datetime, partitions: int) -> list[bytes]:
    """One good post dated `now` for each posts.raw partition (keyed by author, partitioned as the feeder's
    producer partitions), sent first: intake judges a post's age by its partition's newest post, so a record
    "ten years ago" is refused among today's posts but would be a fresh partition's first, valid post."""
    from kafka.partitioner.default import murmur2

    rng, found, n = random.Random(SEED + 1), {}, 10**6
    while len(found) < partitions:
        post = good_post(rng, now, n) | {"created_at": now.isoformat()}
        n += 1
        found.setdefault((murmur2(reference_post(orjson.dumps(post)).raw_key) & 0x7FFFFFFF) % partitions, post)
    return [orjson.dumps(post) for _, post in sorted(found.items())]


def digest(raw: bytes | None) -> bytes:
    return hashlib.blake2b(raw or b"", digest_size=16).digest()


def test_fuzz(fault_case, workers, fault_settings, redis_client, watch_config):
    settings = fault_settings.model_copy(update={"max_post_age_s": MAX_AGE_S})
    for worker in [workers.start(settings) for _ in range(2)]:
        wait(lambda w=worker: ready(w), 120, "the workers to be ready", workers)

    now = datetime.now(UTC) + CLOCK_MARGIN
    items = mixed_stream(SEED, N_GOOD, N_BAD, now)
    items.sort(key=lambda item: not clock_dependent(item))  # stable: repeats stay after their originals
    records, accepted, rejected = [], [], []
    for raw in primers(now, settings.partitions):
        post = reference_post(raw)
        accepted.append(post)
        records.append((post.raw_key, raw))
    for item in items:
        if item.should_reject:
            rejected.append(item)
            records.append((None, item.raw))
            continue
        post = reference_post(item.raw)
        accepted.append(post)
        records.append((post.raw_key, item.raw))  # keyed by author, as sources do: repeats share a partition
    expected = expected_counts(watch_config, accepted)

    feeder = Feeder(settings, records)
    feeder.start()
    n = feeder.result(600)
    verdict = settle(
        fault_case,
        redis_client,
        settings,
        watch_config,
        expected,
        n,
        workers,
        timeout=300,
        stall_s=60,
        duplicates=expected_duplicates(watch_config, accepted),
        deadlettered=len(rejected),
    )
    fault_case.runs = 1

    # every rejected record in the deadletter topic, bytes unchanged, with a reason; nothing else there
    wanted = Counter(digest(item.raw) for item in rejected)
    category = {digest(item.raw): f"{item.category}: {item.detail}" for item in items}
    got: Counter = Counter()
    no_reason = []
    for record in read_topic(settings, Topic.DEADLETTER.name(settings.topic_prefix), timeout_s=30):
        got[digest(record.value)] += 1
        reason = dict(record.headers or []).get(topics.DEADLETTER_REASON, b"")
        if not reason.strip():
            no_reason.append(category.get(digest(record.value), "unknown record"))
    missing = [category[d] for d, k in (wanted - got).items() for _ in range(k)]
    extra = [category.get(d, "unknown record") for d, k in (got - wanted).items() for _ in range(k)]
    deadletter_ok = not missing and not extra and not no_reason
    fault_case.exact = verdict.exact and deadletter_ok
    deadletter_report = (
        f"deadletter topic: {len(missing)} rejected records missing (first: {missing[:10]}); "
        f"{len(extra)} records that should not be there (first: {extra[:10]}); "
        f"{len(no_reason)} without a reason (first: {no_reason[:10]})"
    )
    stalled = in_flight(settings, redis_client, category) if "stalled" in verdict.report else ""
    assert verdict.exact and deadletter_ok, f"{verdict.report}\n{deadletter_report}{stalled}"
    assert worker.proc.poll() is None, "the worker stopped"


def in_flight(settings, client, category: dict[bytes, str]) -> str:
    """The large accepted records among the next BATCH_MAX after each partition's last counted offset: the
    batch a stalled worker is working on."""
    from kafka import KafkaConsumer, TopicPartition

    from schemas.pipeline import partition_counters
    from schemas.redis_keys import RedisKeys
    from streams.agents.app import BATCH_MAX

    counted = partition_counters(client.hgetall(RedisKeys(settings.redis_prefix).counters))
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False)
    found = []
    try:
        topic = Topic.POSTS_RAW.name(settings.topic_prefix)
        for p in range(settings.partitions):
            tp = TopicPartition(topic, p)
            start = counted[p].last_offset + 1 if p in counted else 0
            end = min(start + BATCH_MAX, consumer.end_offsets([tp])[tp])
            if start >= end:
                continue
            consumer.assign([tp])
            consumer.seek(tp, start)
            while consumer.position(tp) < end:
                for record in consumer.poll(timeout_ms=2000).get(tp, []):
                    if record.offset < end and record.key is not None and len(record.value) > 10_000:
                        what = category.get(digest(record.value))
                        found.append(f"p{p}@{record.offset} {len(record.value)} B: {what}")
    finally:
        consumer.close()
    return f"\nlarge accepted records in the batches in flight: {found}"
