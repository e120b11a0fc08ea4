"""The Faust app and its agents. Agents only move data: every decision is in intake, scoring, counters and
aggregate, which live processing, the `lytte score` command and tests share.

    posts.raw --score--> posts.scored (keyed by brand) --aggregate--> metrics + Redis live view
        \\--> deadletter (bytes as they came, reason in headers)

Processing guarantee is at-least-once with idempotent effects (see `streams.aggregate`). Agent
concurrency stays 1: faust can commit past an in-flight message with more (faust #606); scale by
partitions and workers instead.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import faust
from pydantic import ValidationError

from schemas import topics
from schemas.records import Evidence, ScoredPost
from schemas.settings import Settings
from schemas.topics import Topic
from schemas.watch import WatchConfig
from streams.aggregate import (
    BucketState,
    author_entry,
    author_key,
    bucket_key,
    bucket_start,
    is_new_author,
    step,
)
from streams.counters import PartitionCounters, count
from streams.durable_table import save
from streams.gaps import GapReader, LogRecord, fill_gaps
from streams.intake import Limits, Rejected, parse_post
from streams.redis_sink import RedisSink
from streams.scoring import Scorer

log = logging.getLogger(__name__)

#: Up to this many events, or what came within this time, are handled per batch (one Redis round trip).
BATCH_MAX = 500
BATCH_WITHIN_S = 0.05


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_record_bytes=settings.max_record_bytes,
        max_text_chars=settings.max_text_chars,
        max_future_skew=timedelta(seconds=settings.max_future_skew_s),
        max_age=timedelta(seconds=settings.max_post_age_s),
    )


def progress_key(partition: int) -> str:
    """The buckets-table key of the last posts.scored offset handled in a partition. It lives in the
    buckets table so that it shares the changelog partition with the buckets it covers: recovered, it
    implies they were recovered too."""
    return f"~progress|{partition}"


def is_progress_key(key: str) -> bool:
    return key.startswith("~progress|")


def create_app(settings: Settings, watch: WatchConfig) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap}",
        env={},  # faust must not read BROKER_URL & co. from the environment: lytte's settings rule
        store="memory://",
        processing_guarantee="at_least_once",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        broker_commit_interval=settings.commit_interval_s,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        # table keys and values: JSON, so that keys come back as the same str after changelog recovery
        key_serializer="json",
        value_serializer="json",
    )

    def topic(t: Topic) -> faust.TopicT:
        return app.topic(t.name(settings.topic_prefix), key_serializer="raw", value_serializer="raw")

    raw_topic = topic(Topic.POSTS_RAW)
    scored_topic = topic(Topic.POSTS_SCORED)
    metrics_topic = topic(Topic.METRICS)
    deadletter_topic = topic(Topic.DEADLETTER)

    counters_table = app.Table("partition-counters", key_type=str)
    buckets_table = app.Table("buckets", key_type=str)
    authors_table = app.Table("bucket-authors", key_type=str)

    scorer = Scorer(watch)
    gap_reader = GapReader(settings.bootstrap)
    limits = limits_from(settings)
    sink = RedisSink(settings)

    async def deadletter(record: LogRecord, reason: str) -> None:
        log.warning("deadletter %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason)
        await deadletter_topic.send(
            key=record.key,
            value=record.value,
            headers={
                topics.DEADLETTER_REASON: reason.encode(),
                topics.DEADLETTER_TOPIC: record.topic.encode(),
                topics.DEADLETTER_PARTITION: str(record.partition).encode(),
                topics.DEADLETTER_OFFSET: str(record.offset).encode(),
            },
        )

    def raw_handled(partition: int) -> int | None:
        last = PartitionCounters.model_validate(counters_table.get(str(partition)) or {}).last_offset
        return last if last >= 0 else None

    def scored_handled(partition: int) -> int | None:
        return buckets_table.get(progress_key(partition))

    @app.task
    async def publish_watch() -> None:
        await sink.write_watch(watch)

    # Redis is a derived view: after the tables are recovered (a restart, a new Redis, a rebalance), write
    # what they hold, so the wall does not wait for new posts to show the last hours again.
    @buckets_table.on_recover
    async def rebuild_buckets() -> None:
        states = [
            BucketState.model_validate(v).metrics for k, v in buckets_table.data.items() if not is_progress_key(k)
        ]
        states.sort(key=lambda m: m.bucket_start)
        await sink.write_view(states[-settings.redis_buckets_kept * len(watch.watched()) :], [])

    @counters_table.on_recover
    async def rebuild_counters() -> None:
        await sink.write_counters({int(p): PartitionCounters.model_validate(v) for p, v in counters_table.data.items()})

    async def score_one(record: LogRecord) -> tuple[str, int]:
        """Score one raw record; return its outcome and how many scored records it produced."""
        post = parse_post(record.value, datetime.now(UTC), limits)
        if isinstance(post, Rejected):
            await deadletter(record, post.reason)
            return "deadlettered", 0
        evidence = Evidence(
            raw_partition=record.partition, raw_offset=record.offset, raw_timestamp_ms=record.timestamp_ms
        )
        scored = scorer.score(post, evidence)
        for out in scored:
            await scored_topic.send(key=out.brand.encode(), value=out.model_dump_json().encode())
        return ("scored" if scored else "unmatched"), len(scored)

    # Events come in batches: faust acks a batch's events only after the loop body has handled all of them,
    # so each table key is saved once per batch (its latest state) before the batch can be committed, and
    # Redis gets one round trip per batch. Tables are saved with explicit partitions, which is what makes
    # writing them from a batch safe (faust #497 is about the implicit current event).
    @app.agent(raw_topic)
    async def score(stream: faust.StreamT) -> None:
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            counters: dict[int, PartitionCounters] = {}
            for record in await fill_gaps(gap_reader, [LogRecord.from_faust(e.message) for e in events], raw_handled):
                p = record.partition
                if p not in counters:
                    counters[p] = PartitionCounters.model_validate(counters_table.get(str(p)) or {})
                outcome, produced = await score_one(record)
                counters[p], _ = count(counters[p], record.offset, outcome, produced)
            for partition, state in counters.items():
                await save(counters_table, str(partition), state.model_dump(), partition)
            await sink.write_counters(counters)

    @app.agent(scored_topic)
    async def aggregate(stream: faust.StreamT) -> None:
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            touched: dict[str, tuple[BucketState, int]] = {}
            changed: set[str] = set()
            handled: dict[int, int] = {}
            posts: list[ScoredPost] = []
            records = [LogRecord.from_faust(e.message) for e in events]
            for record in await fill_gaps(gap_reader, records, scored_handled):
                partition = record.partition
                handled[partition] = max(record.offset, handled.get(partition, -1))
                try:
                    scored = ScoredPost.model_validate_json(record.value)
                except ValidationError as exc:
                    await deadletter(record, f"malformed scored post: {exc.errors()[0]['msg']}")
                    continue
                key = bucket_key(scored.brand, bucket_start(scored.post.created_at))
                if key in touched:
                    state: BucketState | None = touched[key][0]
                else:
                    stored = buckets_table.get(key)
                    state = BucketState.model_validate(stored) if stored is not None else None
                new_author = False
                if state is None or not state.already_applied(scored):
                    akey = author_key(key, scored)
                    new_author = is_new_author(authors_table.get(akey), scored)
                    if new_author:
                        await save(authors_table, akey, author_entry(scored), partition)
                state, applied = step(state, scored, new_author, settings.top_posts_per_bucket)
                touched[key] = (state, partition)
                if applied:
                    changed.add(key)
                posts.append(scored)
            for key, (state, partition) in touched.items():
                if key in changed:
                    await save(buckets_table, key, state.model_dump(mode="json"), partition)
                # sent even when unchanged: a record lost in a crash before the last commit is sent again
                await metrics_topic.send(
                    key=state.metrics.brand.encode(), value=state.metrics.model_dump_json().encode()
                )
            # saved after the buckets, into the same changelog partition (see progress_key)
            for partition, offset in handled.items():
                done = max(offset, scored_handled(partition) or -1)
                await save(buckets_table, progress_key(partition), done, partition)
            await sink.write_view([state.metrics for state, _ in touched.values()], posts)

    return app
