"""The Faust app and its agent. The agent only moves data: each batch's decisions are one pure function
(`streams.core.batch`) that returns the writes it wants; the agent performs them, all sends gathered and
checked, and only then lets faust acknowledge the batch.

    posts.raw (keyed by author) --handle--> posts.scored (per post and brand, with evidence)
                                        \\--> partial buckets per raw partition -> metrics + Redis live view
                                        \\--> deadletter (bytes as they came, reason in headers)

Everything a raw partition's posts change lives in that partition's state, so the work spreads over
partitions and workers for any mix of brands; readers merge the partial buckets.

Processing guarantee is at-least-once with idempotent effects (see `streams.core.aggregate`). Agent
concurrency stays 1: faust can commit past an in-flight message with more (faust #606); scale by
partitions and workers instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from functools import partial

import faust
from faust.types import TP

from schemas import topics
from schemas.pipeline import PartitionCounters
from schemas.settings import Settings
from schemas.topics import Topic
from schemas.watch import WatchConfig
from streams.agents import await_dump
from streams.agents.alerting import Alerting
from streams.agents.consumer import LytteConsumer
from streams.agents.durable_table import apply_local, changelog_record
from streams.agents.failpoint import Failpoint
from streams.agents.gaps import GapReader, LogRecord, fill_gaps
from streams.agents.learning import Learning
from streams.agents.redis_sink import RedisSink, ViewWriter
from streams.agents.watchdog import Progress, consumer_facts, watch_progress
from streams.alerts.signals import SignalPlanner, signal_of
from streams.core.aggregate import BucketState, key_minute
from streams.core.batch import Deadletter, plan_batch
from streams.core.entries import EntryStore, delta_partition, entry_deltas
from streams.core.expiry import ExpiryIndex, expiry_minute, horizon_s
from streams.core.intake import Limits
from streams.core.scoring import Scorer

log = logging.getLogger(__name__)

#: Up to this many events, or what came within this time, are handled per batch (one Redis round trip).
BATCH_MAX = 500
BATCH_WITHIN_S = 0.05
#: How often an idle worker checks that Redis still holds its part of the view.
VIEW_CHECK_S = 5.0
#: One attempt at a batch's writes may take this long before it is tried again.
WRITE_ATTEMPT_S = 60.0
#: A catch-up reads at most this many records of a partition, and takes at most this long.
CATCH_UP_MAX = 20 * BATCH_MAX
CATCH_UP_LIMIT_S = 120.0
#: How often a worker tells the alert engine which of its partitions are caught up.
IDLE_SIGNAL_S = 2.0


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_record_bytes=settings.max_record_bytes,
        max_text_chars=settings.max_text_chars,
        max_future_skew=timedelta(seconds=settings.max_future_skew_s),
        max_age=timedelta(seconds=settings.max_post_age_s),
    )


async def perform(what: str, sends: list[Awaitable[Awaitable]]) -> None:
    """Start every send, wait for all of them, and check each; on any failure log and start them all
    again after a backoff, until all are written. Records sent twice are harmless: every consumer of them
    is idempotent (offset marks, dedup entries, metrics that replace)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            results = await asyncio.wait_for(_start_and_gather(sends), WRITE_ATTEMPT_S)
            failed = [r for r in results if isinstance(r, BaseException)]
            if not failed:
                if attempt > 1:
                    log.warning("%s: written after %d attempts", what, attempt)
                return
            problem = f"{len(failed)} of {len(results)} sends failed: {failed[0]!r}"
        except Exception as exc:  # anything the producer raises: try again
            problem = repr(exc)
        delay = min(30.0, 2.0 ** (attempt - 1))
        log.warning("%s: %s; trying again in %.0f s (the batch is not acknowledged meanwhile)", what, problem, delay)
        await asyncio.sleep(delay)


async def _start_and_gather(sends: list[Awaitable[Awaitable]]) -> list:
    futures = [await send for send in sends]
    return await asyncio.gather(*futures, return_exceptions=True)


class Send:
    """A send that can be started again: each `await` of it starts the send anew and gives its delivery
    future, so a batch's writes can be retried as they are."""

    def __init__(self, start, *args, **kwargs) -> None:
        self._start, self._args, self._kwargs = start, args, kwargs

    def __await__(self):
        return self._start(*self._args, **self._kwargs).__await__()


def create_app(settings: Settings, watch: WatchConfig) -> faust.App:
    datadir = settings.home / "worker"  # faust's default is `<app id>-data` in the current directory
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap}",
        env={},  # faust must not read BROKER_URL & co. from the environment: lytte's settings rule
        store="memory://",
        datadir=str(datadir),
        processing_guarantee="at_least_once",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        broker_commit_interval=settings.commit_interval_s,
        consumer_auto_offset_reset="earliest",
        # faust's default (1,200 s) lets one send wait twenty minutes; a batch's writes are retried instead
        producer_request_timeout=WRITE_ATTEMPT_S / 2,
        # a batch's sends go out in a few large produce requests instead of one small request per record:
        # with faust's defaults (no linger, 16 KiB batches) the producer took about 40% of the worker's time
        producer_linger=0.005,
        producer_max_batch_size=512 * 1024,
        web_enabled=False,
        # No standby replicas: they copy other workers' changelogs into this worker's tables (memory and CPU
        # for every record any worker writes), the in-memory store replays a promoted partition from the
        # start anyway, and a standby copy is stale by nature (the view rebuild once wrote such copies over
        # the owner's fresh partials)
        table_standby_replicas=0,
        # table keys and values: JSON, so that keys come back as the same str after changelog recovery
        key_serializer="json",
        value_serializer="json",
    )

    app.transport.Consumer = LytteConsumer  # before anything creates the consumer (see streams.agents.consumer)

    def topic(t: Topic) -> faust.TopicT:
        return app.topic(t.name(settings.topic_prefix), key_serializer="raw", value_serializer="raw")

    raw_topic = topic(Topic.POSTS_RAW)
    scored_topic = topic(Topic.POSTS_SCORED)
    metrics_topic = topic(Topic.METRICS)
    deadletter_topic = topic(Topic.DEADLETTER)

    # Every table is partitioned like posts.raw: the state of raw partition p lives in changelog partition p.
    # Expired entries are removed with tombstones; rolled segments let compaction drop them from the log.
    compaction = {
        "segment.ms": settings.changelog_segment_s * 1000,
        "delete.retention.ms": settings.changelog_segment_s * 1000,
    }
    counters_table = app.Table("partition-counters", key_type=str, extra_topic_configs=compaction)
    buckets_table = app.Table("buckets", key_type=str, extra_topic_configs=compaction)
    # dedup and unique-author entries, one delta per raw partition per batch (see `streams.core.entries`)
    entries_table = app.Table("entries", key_type=str, extra_topic_configs=compaction)

    scorer = Scorer(watch)
    gap_reader = GapReader(settings.bootstrap)
    end_reader = GapReader(settings.bootstrap)  # the watchdog's own: its failures must not disturb the agents
    limits = limits_from(settings)
    horizon = horizon_s(settings)
    # which keys each partition holds, by minute (derived; rebuilt after recovery): expiry without a scan
    bucket_expiry = ExpiryIndex()
    entries = EntryStore()  # the entries of the deltas in `entries_table`, as lookups (derived, like the index)
    sink = RedisSink(settings)
    state = TableState(counters_table, buckets_table, entries)

    # Every send goes straight to faust's producer (aiokafka's underneath) with bytes made here: faust's
    # topic.send adds a pending message, a future, serializer lookups and sensor calls per record, which was
    # most of the worker's producer time.
    def send(topic: str, key: bytes | None, value: bytes | None, partition: int | None = None, headers=None) -> Send:
        return Send(app.producer.send, topic, key, value, partition, None, headers)

    scored_name, metrics_name = scored_topic.get_topic_name(), metrics_topic.get_topic_name()
    signals_name = Topic.SIGNALS.name(settings.topic_prefix)
    signal_planner = SignalPlanner(watch)

    def signal(s) -> Send:
        """Signals go to the alert engine's one partition (see `schemas.signals`)."""
        return send(signals_name, None, s.model_dump_json().encode(), 0)

    def deadletter(d: Deadletter) -> Send:
        r = d.record
        log.warning("deadletter %s[%d]@%d: %s", r.topic, r.partition, r.offset, d.reason)
        headers = [
            (topics.DEADLETTER_REASON, d.reason.encode()),
            (topics.DEADLETTER_TOPIC, r.topic.encode()),
            (topics.DEADLETTER_PARTITION, str(r.partition).encode()),
            (topics.DEADLETTER_OFFSET, str(r.offset).encode()),
        ]
        return send(deadletter_topic.get_topic_name(), r.key, r.value, headers=headers)

    def changelog(table: faust.Table, key: str, value, partition: int) -> Send:
        topic, key_bytes, value_bytes = changelog_record(table, key, value)
        return send(topic, key_bytes, value_bytes, partition)

    def raw_handled(partition: int) -> int | None:
        last = state.counters(partition).last_offset
        return last if last >= 0 else None

    def owned_partitions() -> set[int]:
        """The posts.raw partitions this worker owns now."""
        raw = raw_topic.get_topic_name()
        return {tp.partition for tp in app.consumer.assignment() if tp.topic == raw}

    def owned(records: list[LogRecord]) -> list[LogRecord]:
        """The records of partitions this worker still owns. Records fetched before a rebalance can reach
        the agent after their partition moved to another worker; that worker handles them from its own
        position, and writing state for them here would race its writes into the same changelog partition."""
        mine = owned_partitions()
        kept = [r for r in records if r.partition in mine]
        if len(kept) < len(records):
            log.info("skipped %d records of partitions no longer assigned here", len(records) - len(kept))
        return kept

    # Redis is a derived view: after the tables are recovered (a restart, a rebalance) or Redis comes back
    # empty, write what they hold, so the wall does not wait for new posts to show the last hours again.
    # Only the partitions this worker owns: what the tables still hold of others (a partition that moved away)
    # is stale, and its owner writes the fresh state.
    async def rebuild_view() -> None:
        mine = owned_partitions()
        partials = sorted(
            (BucketState.model_validate(v).metrics for k, v in buckets_table.data.items() if _partition_of(k) in mine),
            key=lambda m: m.bucket_start,
        )
        counters = {int(p): PartitionCounters.model_validate(v) for p, v in counters_table.data.items()}
        counters = {p: c for p, c in counters.items() if p in mine}
        await sink.write_watch(watch)
        await sink.write_batch(
            partials[-settings.redis_buckets_kept * len(watch.watched()) * settings.partitions :], [], counters
        )

    view = ViewWriter(rebuild_view)
    progress = Progress()
    fault = Failpoint()

    async def waiting_records() -> dict[int, int] | None:
        """Owned posts.raw partition -> records after the last one handled (None: the broker did not say)."""
        ends = await end_reader.end_offsets(raw_topic.get_topic_name(), sorted(owned_partitions()))
        if ends is None:
            return None
        return {p: end - (state.counters(p).last_offset + 1) for p, end in ends.items()}

    @app.task
    async def install_await_dump() -> None:
        await_dump.install(asyncio.get_running_loop(), partial(consumer_facts, app))

    @app.task
    async def publish_watch() -> None:
        await view.write(partial(sink.write_watch, watch))

    @buckets_table.on_recover
    async def rebuild_buckets() -> None:
        bucket_expiry.rebuild((k, _partition_of(k), key_minute(k)) for k in buckets_table.data)
        await view.repair()

    @entries_table.on_recover
    async def rebuild_entries() -> None:
        entries.rebuild(entries_table.data.items())

    # One batch at a time: the agent's and the catch-up's (see `catch_up`). Both read and write the tables.
    batch_lock = asyncio.Lock()

    def counted_partitions() -> list[int]:
        """The owned partitions whose counters this worker has written: the view must hold them."""
        return [p for p in sorted(owned_partitions()) if state.counters(p).last_offset >= 0]

    async def handle_records(records: list[LogRecord]) -> None:
        """Plan a batch, perform its writes (all sends gathered and checked), then move the local state."""
        records = await fill_gaps(gap_reader, owned(records), raw_handled)
        counted = counted_partitions()
        writes = plan_batch(records, state, scorer, limits, datetime.now(UTC), settings.top_posts_per_bucket)
        cutoffs = {p: expiry_minute(c.event_time_s, horizon) for p, c in writes.counters.items()}
        expired_buckets = [k for p, minute in cutoffs.items() for k in bucket_expiry.expire(p, minute)]
        expired_entries = [entries.expire(p, minute) for p, minute in cutoffs.items()]
        deltas = entry_deltas(writes.seen, writes.authors)
        sends = [deadletter(d) for d in writes.deadletters]
        sends += [send(scored_name, k, v) for k, v in writes.scored]
        sends += [changelog(entries_table, k, delta, p) for p, (k, delta) in deltas.items()]
        sends += [
            changelog(buckets_table, k, bucket.model_dump(mode="json"), p) for k, (bucket, p) in writes.buckets.items()
        ]
        sends += [send(metrics_name, m.brand.encode(), m.model_dump_json().encode()) for m in writes.metrics.values()]
        sends += [changelog(buckets_table, k, None, _partition_of(k)) for k in expired_buckets]
        sends += [changelog(entries_table, k, None, delta_partition(k)) for e in expired_entries for k in e.deltas]
        sends += [changelog(counters_table, str(p), c.model_dump(), p) for p, c in writes.counters.items()]
        signals, unsignalled = signal_planner.signals(writes)
        sends += [signal(s) for s in signals]
        by_offset = {(r.partition, r.offset): r for r in records} if unsignalled else {}
        sends += [deadletter(Deadletter(by_offset[f.partition, f.offset], f.reason)) for f in unsignalled]
        await perform("batch", sends)
        for key, delta in deltas.values():
            apply_local(entries_table, key, delta)
            entries.apply(key, delta)
        for key, (bucket, p) in writes.buckets.items():
            apply_local(buckets_table, key, bucket.model_dump(mode="json"))
            bucket_expiry.add(p, key, key_minute(key))
        for key in expired_buckets:
            apply_local(buckets_table, key, None)
        for expired in expired_entries:
            for key in expired.deltas:
                apply_local(entries_table, key, None)
            entries.forget(expired)
        for p, c in writes.counters.items():
            apply_local(counters_table, str(p), c.model_dump())
        await view.write(
            partial(sink.write_batch, list(writes.metrics.values()), writes.posts, writes.counters, counted)
        )

    async def catch_up() -> None:
        """Handle, straight from the log, the records of owned partitions that the agent was never given.

        faust drops records it fetched around a recovery or a rebalance, and its consumer position is then
        past them (see `streams.agents.gaps`). The agent's gap reading repairs that when a later record of
        the partition arrives; when none does (every post came before a restart), only this does. Skipped
        while the agent is in a batch (it may be hanging there: the watchdog's restart deals with that) or
        while the app rebalances; bounded in time like any other wait."""
        if batch_lock.locked():
            log.warning("catch-up: the agent is in the middle of a batch; not catching up")
            return
        async with batch_lock:
            try:
                async with asyncio.timeout(CATCH_UP_LIMIT_S):
                    await read_and_handle_waiting()
            except TimeoutError:
                log.warning("catch-up: not done within %.0f s; the watchdog will look again", CATCH_UP_LIMIT_S)

    async def read_and_handle_waiting() -> None:
        raw = raw_topic.get_topic_name()
        for p, n in sorted((await waiting_records() or {}).items()):
            if n <= 0 or app.rebalancing or app.in_recovery:
                continue
            first = state.counters(p).last_offset + 1
            offsets = range(first, first + min(n, CATCH_UP_MAX))
            log.warning(
                "%s[%d]: offsets %d..%d were never given to the agent; reading them from the log",
                raw,
                p,
                offsets.start,
                offsets.stop - 1,
            )
            records = await gap_reader.read(raw, p, offsets)
            for start in range(0, len(records), BATCH_MAX):
                await handle_records(records[start : start + BATCH_MAX])

    @app.on_partitions_revoked.connect
    async def finish_catch_up(app: faust.App, revoked: set[TP], **kwargs) -> None:
        """A rebalance waits for the batch in hand (faust waits for the agent's; this, for the catch-up's), so
        that no write for a partition lands after its new owner has read the partition's state."""
        try:
            async with asyncio.timeout(settings.session_timeout_s / 2):
                async with batch_lock:
                    pass
        except TimeoutError:
            log.warning("rebalance: a batch was still being written after %.0f s", settings.session_timeout_s / 2)

    @app.timer(VIEW_CHECK_S)
    async def check_view() -> None:
        """A worker whose partitions get no posts writes nothing to Redis, so it would never notice that
        Redis lost its part of the view (restarted empty): it looks. Between batches only, so that the
        rebuild's snapshot of the tables cannot land after a newer batch's write."""
        if batch_lock.locked() or app.rebalancing or app.in_recovery:
            return
        async with batch_lock:
            await view.write(partial(sink.intact, counted_partitions()))

    @app.timer(IDLE_SIGNAL_S)
    async def announce_idle() -> None:
        """Tell the alert engine which of this worker's partitions are caught up, so that their watermarks
        do not hold back its event time while other partitions go on (see `streams.alerts.engine`)."""
        if batch_lock.locked() or app.rebalancing or app.in_recovery:
            return
        async with batch_lock:
            waiting = await waiting_records()
            idle = [
                p
                for p, n in sorted((waiting or {}).items())
                if n == 0 and 0 <= state.counters(p).last_offset != announced_idle.get(p)
            ]
            if idle:
                await perform("idle", [signal(signal_of(p, state.counters(p), idle=True)) for p in idle])
                announced_idle.update({p: state.counters(p).last_offset for p in idle})

    announced_idle: dict[int, int] = {}  # partition -> the last offset it was announced idle at (once each)

    Alerting(app, settings, watch, send, deadletter, perform, sink, view, compaction)
    if settings.adjust_sentiment:
        Learning(app, settings, scorer)

    @app.task
    async def watchdog() -> None:
        await watch_progress(app, settings, progress, waiting_records, catch_up)

    # Events come in batches, and a batch's events are acknowledged only after all its writes are out, so each
    # table key is saved once per batch (its latest state) before the batch can be committed, and Redis gets
    # one round trip per batch. faust's `take_events` would hold its stream still while the body waits for
    # the broker's acks; here a reader task goes on turning records into events (faust's per-event work)
    # while the batch before is being written, up to one batch ahead, and the loop acknowledges each batch
    # itself. Tables are saved with explicit partitions, which is what makes writing them from a batch safe
    # (faust #497 is about the implicit current event).
    @app.agent(raw_topic)
    async def handle(stream: faust.StreamT) -> None:
        manual = stream.noack()
        ahead: asyncio.Queue = asyncio.Queue(maxsize=BATCH_MAX)

        async def read() -> None:
            async for event in manual.events():
                await ahead.put(event)

        reader = asyncio.ensure_future(read())
        try:
            while True:
                try:
                    events = await next_batch(ahead, reader, BATCH_MAX, BATCH_WITHIN_S)
                except StreamEnded:
                    if not (app.should_stop or stream.should_stop):
                        raise RuntimeError("the stream's reader ended") from None  # a crash: faust restarts it
                    # the worker is stopping: end the agent. A crash here would make faust's supervisor start
                    # the agent again on a stream that never yields, and the stop would wait for it until the
                    # process is killed
                    return
                async with batch_lock:
                    if await fault.admit(progress.batches):
                        await handle_records([LogRecord.from_faust(e.message) for e in events])
                for event in events:
                    await manual.ack(event)
                progress.batch_handled()
        finally:
            reader.cancel()

    return app


class StreamEnded(Exception):
    """The agent's stream ended without an error: the worker is stopping."""


async def next_batch(queue: asyncio.Queue, reader: asyncio.Future, max_: int, within_s: float) -> list:
    """Up to `max_` items: the first as soon as there is one, then what comes within `within_s` of it. Raises
    what ended the reader, if it ended (a stream that stops must stop the agent, not leave it waiting), and
    `StreamEnded` when it ended quietly."""
    if queue.empty():
        first = asyncio.ensure_future(queue.get())
        await asyncio.wait({first, reader}, return_when=asyncio.FIRST_COMPLETED)
        if not first.done():
            first.cancel()
            reader.result()  # raises what ended it
            raise StreamEnded
        batch = [first.result()]
    else:
        batch = [queue.get_nowait()]
    deadline = asyncio.get_running_loop().time() + within_s
    while len(batch) < max_:
        if not queue.empty():
            batch.append(queue.get_nowait())
            continue
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            break
        try:
            batch.append(await asyncio.wait_for(queue.get(), remaining))
        except TimeoutError:
            break
    return batch


def _partition_of(key: str) -> int:
    """The raw partition of a bucket or author key: "nordair|1795516920|3|42" -> 3."""
    return int(key.split("|", 3)[2])


class TableState:
    """The worker's tables as `streams.core.batch.StateReader` reads them."""

    def __init__(self, counters: faust.Table, buckets: faust.Table, entries: EntryStore) -> None:
        self._counters, self._buckets, self._entries = counters, buckets, entries

    def counters(self, partition: int) -> PartitionCounters:
        return PartitionCounters.model_validate(self._counters.get(str(partition)) or {})

    def seen(self, key: str):
        return self._entries.seen(key)

    def bucket(self, key: str) -> BucketState | None:
        stored = self._buckets.get(key)
        return BucketState.model_validate(stored) if stored is not None else None

    def author(self, key: str):
        return self._entries.author(key)
