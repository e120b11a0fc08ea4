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

    @app.agent(raw_topic)
    async def score(stream: faust.StreamT) -> None:
        async for event in stream.events():
            msg = event.message
            post = parse_post(msg.value, datetime.now(UTC), limits)
            scored: list[ScoredPost] = []
            if isinstance(post, Rejected):
                await deadletter(event, post.reason)
                outcome = "deadlettered"
            else:
                evidence = Evidence(
                    raw_partition=msg.partition,
                    raw_offset=msg.offset,
                    raw_timestamp_ms=int(msg.timestamp * 1000),
                )
                scored = scorer.score(post, evidence)
                outcome = "scored" if scored else "unmatched"
            for record in scored:
                await scored_topic.send(key=record.brand.encode(), value=record.model_dump_json().encode())
            key = str(msg.partition)
            previous = PartitionCounters.model_validate(counters_table.get(key) or {})
            counters, counted = count(previous, msg.offset, outcome, len(scored))
            if counted:
                await save(counters_table, key, counters.model_dump(), msg.partition)
            await sink.write_counters(msg.partition, counters)

    @app.agent(scored_topic)
    async def aggregate(stream: faust.StreamT) -> None:
        async for event in stream.events():
            try:
                scored = ScoredPost.model_validate_json(event.message.value)
            except ValidationError as exc:
                await deadletter(event, f"malformed scored post: {exc.errors()[0]['msg']}")
                continue
            key = bucket_key(scored.brand, bucket_start(scored.post.created_at))
            stored = buckets_table.get(key)
            state = BucketState.model_validate(stored) if stored is not None else None
            new_author = False
            if state is None or not state.already_applied(scored):
                akey = author_key(key, scored)
                new_author = is_new_author(authors_table.get(akey), scored)
                if new_author:
                    await save(authors_table, akey, author_entry(scored), event.message.partition)
            state, applied = step(state, scored, new_author, settings.top_posts_per_bucket)
            if applied:
                await save(buckets_table, key, state.model_dump(mode="json"), event.message.partition)
            await metrics_topic.send(key=scored.brand.encode(), value=state.metrics.model_dump_json().encode())
            await sink.write_bucket(state.metrics, scored)

    app.lytte_sink = sink  # type: ignore[attr-defined]
    return app
