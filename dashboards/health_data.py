"""The health page's reads (`/health`); what they mean is decided in `dashboards.health_model`.

- Kafka (`KafkaHealth`): a background refresh, like `dashboards.data.RawOffsets`, so that a page never waits on
  Kafka longer than WAIT_S: the broker's latency (a metadata request), the worker group's committed offsets and
  members (`list_group_offsets`, `describe_groups`: the group is the faust app id), the end offsets of the topics
  it consumes, and the newest deadletter records (a bounded read of the deadletter topic's tail, done again only
  when that tail moved). When Kafka stops answering, the last figures are kept and shown as old, with the time
  Kafka became unreachable.
- Redis (`HealthReader`): a PING (its latency) and one round trip for the pipeline counters, the services
  `lytte up` records, the webhook receivers and the sources' reports, with a 2 s bound on every call; the
  counters are sampled for the throughput (`health_model.CounterSamples`).
- The pipeline's "stalled" comes from `schemas.pipeline.pipeline_status` over the wall's own `RawOffsets` (shared
  when the app installs the reader with it), so the health page and the wall judge a stall the same way.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import replace

import redis

from dashboards.data import RawOffsets, redis_client
from dashboards.health_model import (
    DEADLETTERS_SHOWN,
    TP,
    CounterSamples,
    DeadletterRecord,
    GroupInfo,
    HealthView,
    KafkaFigures,
    PipelineReading,
    Probe,
    RedisFigures,
    deadletter_record,
    group_info,
    lag_topics,
    newest_deadletters,
    redis_figures,
    throughput,
)
from dashboards.refresh import BackgroundRefresh, State, Timing
from schemas.pipeline import pipeline_status
from schemas.redis_keys import RedisKeys
from schemas.settings import Settings
from schemas.topics import Topic

log = logging.getLogger(__name__)

CLIENT_ID = "lytte-dashboard-health"


def _error(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__


def _now_ms() -> int:
    return int(time.time() * 1000)


# -- I/O: Kafka -------------------------------------------------------------------------------------------------


def _consumer(bootstrap: str, timeout_ms: int):
    """A kafka-python consumer without a group id (it touches no consumer group), every request bounded."""
    from kafka import KafkaConsumer

    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id=CLIENT_ID,
        group_id=None,
        enable_auto_commit=False,
        allow_auto_create_topics=False,
        auto_offset_reset="earliest",
        bootstrap_timeout_ms=timeout_ms,
        request_timeout_ms=timeout_ms,
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=1024 * 1024,
    )


def _close_consumer(consumer) -> None:
    with contextlib.suppress(Exception):
        consumer.close(autocommit=False, timeout_ms=1000)


def _partitions(consumer, topics: Iterable[str]) -> list:
    """The TopicPartitions of these topics (none for a topic that does not exist)."""
    from kafka import TopicPartition

    return [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]


def _deadletter(r) -> DeadletterRecord:
    """A kafka-python ConsumerRecord of the deadletter topic."""
    return deadletter_record(r.partition, r.offset, r.timestamp, r.headers, r.key, r.value)


class KafkaHealth:
    """The Kafka figures of the health page, refreshed in a background thread (`dashboards.refresh`).

    A read starts a refresh when the last one is older than CACHE_S (none during RETRY_S after a failure, none
    while one runs) and waits for it at most WAIT_S; it returns the last figures either way, with a Probe that
    says whether Kafka answered. One admin client and one consumer (no group id: no consumer group is touched)
    are kept between refreshes and re-created after an error; a refresh stuck for ABANDON_S is left behind.
    """

    CACHE_S = 2.0
    WAIT_S = 1.0
    RETRY_S = 5.0
    UNREACHABLE_AFTER_S = 10.0
    ABANDON_S = 30.0
    REQUEST_TIMEOUT_MS = 5_000
    TAIL_BUDGET_S = 2.0
    #: deadletter records kept by key for the record view (more than shown: a row clicked as the list moves on)
    KEPT = 100

    def __init__(self, settings: Settings) -> None:
        self.bootstrap = settings.bootstrap
        self.group_id = settings.app_id
        self.raw_topic = Topic.POSTS_RAW.name(settings.topic_prefix)
        self.deadletter_topic = Topic.DEADLETTER.name(settings.topic_prefix)
        self._refresh = BackgroundRefresh(
            "lytte-health-kafka",
            self._fetch,
            self._keep,
            Timing.of(self),
            drop=lambda r: self._close(r[0]),
            failed=self._failed,
        )
        self._lock = self._refresh.lock
        #: when the page first asked (epoch ms): "unreachable since" while nothing ever answered
        self._first_read_ms: int | None = None
        #: kept between refreshes; a refresh takes them out while it uses them
        self._clients: tuple | None = None
        self._figures: KafkaFigures | None = None
        #: how the last refresh ended (None: none has ended yet)
        self._outcome: Probe | None = None
        self._tail_ends: dict[int, int] | None = None
        self._kept: OrderedDict[str, DeadletterRecord] = OrderedDict()

    def read(self) -> tuple[Probe, KafkaFigures | None]:
        with self._lock:
            self._first_read_ms = self._first_read_ms or _now_ms()
        self._refresh.read()
        with self._lock:
            return self._probe(), self._figures

    def _probe(self) -> Probe:
        state = self._refresh.state()
        if state is State.PENDING:
            return Probe(None)
        if state is State.UNREACHABLE:  # a refresh hangs
            if self._outcome is None:
                return Probe(False, since_ms=self._first_read_ms, error="no answer")
            return self._outcome.failed(self._outcome.answered_ms + int(self.CACHE_S * 1000), "no answer")
        return self._outcome

    def record(self, partition: int, offset: int) -> DeadletterRecord | None:
        """A deadletter record this reader has listed, by its place; None if it is not kept any more."""
        with self._lock:
            return self._kept.get(f"{partition}:{offset}")

    def _fetch(self) -> tuple[tuple, float, KafkaFigures, dict[int, int] | None]:
        """(clients, latency_ms, figures, tail_ends) of one refresh, on the refresh thread."""
        with self._lock:
            clients, self._clients = self._clients, None
            tail_ends = self._tail_ends
            tail = self._figures.deadletters if self._figures is not None else ()
        try:
            clients = clients or self._new_clients()
            return clients, *self._read(*clients, tail_ends, tail)
        except Exception as exc:
            log.warning("health: Kafka at %s: %s", self.bootstrap, _error(exc))
            if clients is not None:
                self._close(clients)
            raise

    def _failed(self, exc: Exception) -> None:
        """A refresh failed (under the lock)."""
        self._outcome = (self._outcome or Probe(None)).failed(_now_ms(), _error(exc))

    def _read(self, admin, consumer, tail_ends, tail) -> tuple[float, KafkaFigures, dict[int, int] | None]:
        """The broker's latency, the figures, and the deadletter topic's ends the tail was read at."""
        started = time.perf_counter()
        admin.describe_cluster()
        latency_ms = (time.perf_counter() - started) * 1000
        committed, group = self._group(admin)
        ends, begins = self._offsets(consumer, lag_topics(self.group_id, self.raw_topic, committed, group))
        tail_ends, tail = self._tail(consumer, tail_ends, tail)
        return latency_ms, KafkaFigures(_now_ms(), group, committed, begins, ends, tail), tail_ends

    def _keep(self, result: tuple[tuple, float, KafkaFigures, dict[int, int] | None]) -> None:
        """Take a refresh's clients and figures (under the lock)."""
        self._clients, latency_ms, figures, self._tail_ends = result
        self._figures = figures
        for r in figures.deadletters:
            self._kept[r.key_str] = r
            self._kept.move_to_end(r.key_str)
        while len(self._kept) > self.KEPT:
            self._kept.popitem(last=False)
        self._outcome = Probe(True, latency_ms, figures.read_ms)

    def _group(self, admin) -> tuple[dict[TP, int], GroupInfo]:
        """The group's committed offsets and members. An error the broker returns about the group (its coordinator
        not available yet, say) leaves the group unknown; Kafka itself answered, so it is not "unreachable"."""
        from kafka.errors import BrokerResponseError

        try:
            offsets = admin.list_group_offsets({self.group_id: None}).get(self.group_id, {})
            described = admin.describe_groups([self.group_id]).get(self.group_id)
        except BrokerResponseError as exc:
            return {}, GroupInfo("unknown", error=_error(exc))
        committed = {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
        return committed, group_info(described)

    def _offsets(self, consumer, topics: list[str]) -> tuple[dict[TP, int], dict[TP, int]]:
        """The end and beginning offsets of these topics' partitions."""
        tps = _partitions(consumer, topics)
        if not tps:
            return {}, {}
        ends = {(tp.topic, tp.partition): n for tp, n in consumer.end_offsets(tps, self.REQUEST_TIMEOUT_MS).items()}
        begins = consumer.beginning_offsets(tps, self.REQUEST_TIMEOUT_MS)
        return ends, {(tp.topic, tp.partition): n for tp, n in begins.items()}

    def _tail(self, consumer, known_ends: dict[int, int] | None, known: tuple) -> tuple[dict[int, int] | None, tuple]:
        """The newest DEADLETTERS_SHOWN records of the deadletter topic: up to that many from the end of each
        partition, newest first overall. Read again only when an end moved; within TAIL_BUDGET_S (what came)."""
        tps = _partitions(consumer, [self.deadletter_topic])
        if not tps:
            return {}, ()
        ends = consumer.end_offsets(tps, self.REQUEST_TIMEOUT_MS)
        by_partition = {tp.partition: n for tp, n in ends.items()}
        if by_partition == known_ends:
            return by_partition, known
        begins = consumer.beginning_offsets(tps, self.REQUEST_TIMEOUT_MS)
        wanted = {tp: max(begins[tp], ends[tp] - DEADLETTERS_SHOWN) for tp in tps if ends[tp] > begins[tp]}
        records = []
        if wanted:
            consumer.assign(list(wanted))
            for tp, offset in wanted.items():
                consumer.seek(tp, offset)
            deadline = time.monotonic() + self.TAIL_BUDGET_S
            pending = set(wanted)
            while pending and time.monotonic() < deadline:
                for tp, batch in consumer.poll(timeout_ms=200).items():
                    records += [_deadletter(r) for r in batch if r.offset < ends[tp]]
                pending = {tp for tp in pending if consumer.position(tp, timeout_ms=1000) < ends[tp]}
            consumer.assign([])
            if pending:  # not all came in time: read it all again next time
                by_partition = None
        return by_partition, newest_deadletters(records)

    def _new_clients(self) -> tuple:
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(
            bootstrap_servers=self.bootstrap,
            client_id=CLIENT_ID,
            request_timeout_ms=self.REQUEST_TIMEOUT_MS,
            bootstrap_timeout_ms=self.REQUEST_TIMEOUT_MS,
        )
        try:
            return admin, _consumer(self.bootstrap, self.REQUEST_TIMEOUT_MS)
        except Exception:
            admin.close()
            raise

    @staticmethod
    def _close(clients: tuple) -> None:
        admin, consumer = clients
        _close_consumer(consumer)
        with contextlib.suppress(Exception):
            admin.close()


def read_deadletter(settings: Settings, partition: int, offset: int, timeout_s: float = 3.0) -> DeadletterRecord | None:
    """One record of the deadletter topic by its place, read with a consumer of its own (no group) within
    `timeout_s`; None if it is not there (any more) or Kafka did not answer in time. For a record the page lists
    but this process does not keep (another server process listed it)."""
    from kafka import TopicPartition

    deadline = time.monotonic() + timeout_s
    consumer = None
    try:
        consumer = _consumer(settings.bootstrap, int(timeout_s * 1000))
        tp = TopicPartition(Topic.DEADLETTER.name(settings.topic_prefix), partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        while time.monotonic() < deadline:
            for r in consumer.poll(timeout_ms=200).get(tp, ()):
                if r.offset >= offset:
                    return _deadletter(r) if r.offset == offset else None
        return None
    except Exception as exc:
        log.warning("health: reading a deadletter record: %s", _error(exc))
        return None
    finally:
        if consumer is not None:
            _close_consumer(consumer)


# -- I/O: Redis, and the whole read -----------------------------------------------------------------------------


class HealthReader:
    """Reads everything the health page shows (thread-safe: page callbacks run on many threads)."""

    REDIS_TIMEOUT_S = 2.0

    def __init__(
        self,
        settings: Settings,
        raw: RawOffsets | None = None,
        kafka: KafkaHealth | None = None,
        client: redis.Redis | None = None,
    ) -> None:
        self.settings = settings
        self.keys = RedisKeys(settings.redis_prefix)
        self.redis = client or redis_client(settings, self.REDIS_TIMEOUT_S)
        self.raw = raw or RawOffsets(settings)
        self.kafka = kafka or KafkaHealth(settings)
        self.stall_after_ms = int(settings.stall_after_s * 1000)
        self._lock = threading.Lock()
        self._samples = CounterSamples()
        self._redis_probe = Probe(None)
        self._redis_figures: RedisFigures | None = None
        self._pipeline: PipelineReading | None = None

    def read(self) -> HealthView:
        now_ms = _now_ms()
        redis_probe, figures = self._read_redis(now_ms)
        kafka_probe, kafka_figures = self.kafka.read()
        pipeline = self._judge(figures, now_ms) if redis_probe.reachable else None
        with self._lock:
            if pipeline is not None:
                self._pipeline = pipeline
            elif self._pipeline is not None:
                pipeline = replace(self._pipeline, current=False)
            rates = throughput(self._samples.samples)
        return HealthView(
            now_ms=now_ms,
            group_id=self.kafka.group_id,
            raw_topic=self.kafka.raw_topic,
            deadletter_topic=self.kafka.deadletter_topic,
            redis=redis_probe,
            kafka=kafka_probe,
            redis_figures=figures,
            kafka_figures=kafka_figures,
            pipeline=pipeline,
            throughput=rates,
        )

    def _judge(self, figures: RedisFigures, now_ms: int) -> PipelineReading | None:
        """The pipeline's judgement over posts.raw's ends (the wall's RawOffsets); None when Kafka did not answer."""
        snapshot = self.raw.read(figures.counters, now_ms, self.stall_after_ms)
        if snapshot is None:
            return None
        status = pipeline_status(
            snapshot.ends, figures.counters, now_ms, snapshot.first_waiting_ms, self.stall_after_ms
        )
        return PipelineReading(status, dict(snapshot.first_waiting_ms), now_ms)

    def _read_redis(self, now_ms: int) -> tuple[Probe, RedisFigures | None]:
        k = self.keys
        try:
            started = time.perf_counter()
            self.redis.ping()
            latency_ms = (time.perf_counter() - started) * 1000
            pipe = self.redis.pipeline(transaction=False)
            pipe.hgetall(k.counters)
            pipe.get(k.updated)
            pipe.exists(k.watch)
            pipe.hgetall(k.services)
            pipe.hgetall(k.receivers)
            pipe.hgetall(k.sources)
            figures = redis_figures(now_ms, *pipe.execute())
        except (redis.RedisError, OSError, ValueError) as exc:
            with self._lock:
                self._redis_probe = self._redis_probe.failed(now_ms, _error(exc))
                return self._redis_probe, self._redis_figures
        with self._lock:
            self._samples.add(time.monotonic(), {p: c.posts_in for p, c in figures.counters.items()})
            self._redis_figures = figures
            self._redis_probe = Probe(True, latency_ms, now_ms)
            return self._redis_probe, figures

    def deadletter(self, partition: int, offset: int) -> DeadletterRecord | None:
        """A listed deadletter record by its place: from what the last reads kept, else read from Kafka (bounded)."""
        return self.kafka.record(partition, offset) or read_deadletter(self.settings, partition, offset)


#: The reader the page callbacks use; set by `install` (from `dashboards.app.create_app`).
reader: HealthReader | None = None
_install_lock = threading.Lock()


def install(settings: Settings, raw: RawOffsets | None = None) -> HealthReader:
    """Create the page's reader for these settings; `raw`: the wall's RawOffsets, so both share one cache."""
    global reader
    with _install_lock:
        reader = HealthReader(settings, raw)
        return reader


def get(fallback_raw: RawOffsets | None = None) -> HealthReader:
    """The installed reader. Until the app installs one, one is made from the environment's settings (what `lytte
    dashboard` runs with), once."""
    global reader
    with _install_lock:
        if reader is None:
            log.info("health: no reader installed by the app; using the environment's settings")
            reader = HealthReader(Settings(), fallback_raw)
        return reader
