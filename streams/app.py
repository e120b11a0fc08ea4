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
from faust.types import EventT
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
        table_cleanup_interval=3600.0,
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
    limits = limits_from(settings)
    sink = RedisSink(settings)

    async def deadletter(event: EventT, reason: str) -> None:
        msg = event.message
        log.warning("deadletter %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset, reason)
        await deadletter_topic.send(
            key=msg.key,
            value=msg.value,
            headers={
                topics.DEADLETTER_REASON: reason.encode(),
                topics.DEADLETTER_TOPIC: msg.topic.encode(),
                topics.DEADLETTER_PARTITION: str(msg.partition).encode(),
                topics.DEADLETTER_OFFSET: str(msg.offset).encode(),
            },
        )

    @app.task
    async def publish_watch() -> None:
        await sink.write_watch(watch)

    # Redis is a derived view: after the tables are recovered (a restart, a new Redis, a rebalance), write
    # what they hold, so the wall does not wait for new posts to show the last hours again.
    @buckets_table.on_recover
    async def rebuild_buckets() -> None:
        states = [BucketState.model_validate(v).metrics for v in buckets_table.data.values()]
        states.sort(key=lambda m: m.bucket_start)
        await sink.write_view(states[-settings.redis_buckets_kept * len(watch.watched()) :], [])

    @counters_table.on_recover
    async def rebuild_counters() -> None:
        await sink.write_counters({int(p): PartitionCounters.model_validate(v) for p, v in counters_table.data.items()})

    async def score_one(event: EventT) -> tuple[str, int]:
        """Score one raw record; return its outcome and how many scored records it produced."""
        msg = event.message
        post = parse_post(msg.value, datetime.now(UTC), limits)
        if isinstance(post, Rejected):
            await deadletter(event, post.reason)
            return "deadlettered", 0
        evidence = Evidence(
            raw_partition=msg.partition, raw_offset=msg.offset, raw_timestamp_ms=int(msg.timestamp * 1000)
        )
        scored = scorer.score(post, evidence)
        for record in scored:
            await scored_topic.send(key=record.brand.encode(), value=record.model_dump_json().encode())
        return ("scored" if scored else "unmatched"), len(scored)

    # Events come in batches: faust acks a batch's events only after the loop body has handled all of them,
    # so each table key is saved once per batch (its latest state) before the batch can be committed, and
    # Redis gets one round trip per batch. Tables are saved with explicit partitions, which is what makes
    # writing them from a batch safe (faust #497 is about the implicit current event).
    @app.agent(raw_topic)
    async def score(stream: faust.StreamT) -> None:
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            counters: dict[int, PartitionCounters] = {}
            for event in events:
                msg = event.message
                if msg.partition not in counters:
                    counters[msg.partition] = PartitionCounters.model_validate(
                        counters_table.get(str(msg.partition)) or {}
                    )
                outcome, produced = await score_one(event)
                counters[msg.partition], _ = count(counters[msg.partition], msg.offset, outcome, produced)
            for partition, state in counters.items():
                await save(counters_table, str(partition), state.model_dump(), partition)
            await sink.write_counters(counters)

    @app.agent(scored_topic)
    async def aggregate(stream: faust.StreamT) -> None:
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            touched: dict[str, tuple[BucketState, int]] = {}
            changed: set[str] = set()
            posts: list[ScoredPost] = []
            for event in events:
                partition = event.message.partition
                try:
                    scored = ScoredPost.model_validate_json(event.message.value)
                except ValidationError as exc:
                    await deadletter(event, f"malformed scored post: {exc.errors()[0]['msg']}")
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
            await sink.write_view([state.metrics for state, _ in touched.values()], posts)

    return app
