"""`lytte status`: what the pipeline has done with `posts.raw`, read from Kafka alone.

It works while Redis (and every worker) is down: the end offsets of `posts.raw`, the last record of each
partition of the score agent's counters changelog (`<app_id>-partition-counters-changelog`: partition p
holds raw partition p's `PartitionCounters`, the last record being the current ones) and the Kafka
timestamp of the first record still waiting in each partition with lag. `schemas.pipeline.pipeline_status`
turns them into lag and the stalled flag, the same judgement as the wall's. When Redis answers within 2 s,
the services `lytte up` supervises are shown too.

The exit code is 0 whenever Kafka answered, stalled or not: this is a report, and scripts read `stalled`
from `--json`. It is 2 (one line on stderr) when Kafka does not answer in time; every Kafka call is bounded
and the whole read runs under a watchdog, so the command never hangs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from schemas.pipeline import (  # noqa: F401  (ago, pipeline_line: re-exported for callers of streams.status)
    PartitionCounters,
    PipelineStatus,
    ago,
    pipeline_line,
    pipeline_status,
    stalled_for_s,
)
from schemas.redis_keys import RedisKeys
from schemas.settings import Settings
from schemas.topics import Topic
from streams.local.processes import ServiceError

T = TypeVar("T")

#: Redis only adds the services; it gets this long.
REDIS_TIMEOUT_S = 2.0
#: Of the Kafka budget, at most this long goes to the timestamps of waiting records (they are optional).
WAITING_BUDGET_S = 3.0


def changelog_topic(settings: Settings) -> str:
    return f"{settings.app_id}-partition-counters-changelog"


@dataclass(frozen=True)
class KafkaSnapshot:
    raw_ends: dict[int, int]
    counters: dict[int, PartitionCounters]
    first_waiting_ms: dict[int, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def left_s(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def left_ms(self, at_most_s: float | None = None) -> int:
        left = self.left_s() if at_most_s is None else min(self.left_s(), at_most_s)
        return max(1, int(left * 1000))


class _Timeout(Exception):
    pass


def _bounded(fn: Callable[[], T], timeout_s: float) -> T:
    """fn() in a daemon thread; _Timeout if it has not returned in `timeout_s`, its own exception if it raised."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=work, name="lytte-status", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if "error" in box:
        raise box["error"]
    if "value" not in box:
        raise _Timeout
    return box["value"]


# -- Kafka ---------------------------------------------------------------------------------------------


def read_kafka(settings: Settings, timeout_s: float = 10.0) -> KafkaSnapshot:
    """Everything `lytte status` needs from Kafka, or ServiceError if Kafka does not answer in `timeout_s`."""
    from kafka.errors import KafkaError

    unreachable = ServiceError(f"Kafka at {settings.bootstrap} did not answer within {timeout_s:g} s")
    try:
        return _bounded(lambda: _read_kafka(settings, _Deadline(timeout_s)), timeout_s + 0.5)
    except (_Timeout, KafkaError, OSError):
        raise unreachable from None


def _read_kafka(settings: Settings, deadline: _Deadline) -> KafkaSnapshot:
    from kafka import KafkaConsumer, TopicPartition

    budget_ms = deadline.left_ms()
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap,
        client_id="lytte-status",
        group_id=None,
        enable_auto_commit=False,
        allow_auto_create_topics=False,
        auto_offset_reset="earliest",
        bootstrap_timeout_ms=budget_ms,
        request_timeout_ms=max(budget_ms, 1000),
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=64 * 1024,
    )
    try:
        raw = Topic.POSTS_RAW.name(settings.topic_prefix)
        raw_tps = [TopicPartition(raw, p) for p in sorted(consumer.partitions_for_topic(raw))]
        ends = consumer.end_offsets(raw_tps, timeout_ms=deadline.left_ms()) if raw_tps else {}
        raw_ends = {tp.partition: end for tp, end in ends.items()}
        counters, warnings = _last_counters(consumer, changelog_topic(settings), deadline)
        first_waiting = _first_waiting_ms(consumer, raw, raw_ends, counters, deadline)
        return KafkaSnapshot(raw_ends, counters, first_waiting, warnings)
    finally:
        consumer.close(autocommit=False, timeout_ms=1000)


def _last_counters(consumer, topic: str, deadline: _Deadline) -> tuple[dict[int, PartitionCounters], list[str]]:
    """The last record of each changelog partition, as counters by raw partition."""
    from kafka import TopicPartition
    from kafka.errors import KafkaTimeoutError

    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    if not tps:
        return {}, []  # no worker has created its table yet
    ends = consumer.end_offsets(tps, timeout_ms=deadline.left_ms())
    begins = consumer.beginning_offsets(tps, timeout_ms=deadline.left_ms())
    last: dict = {}
    pending = {tp: ends[tp] for tp in tps if ends[tp] > begins[tp]}
    # The last offset holds a record unless it is a transaction marker; then look a little further back.
    for window in (1, 64):
        if not pending:
            break
        consumer.assign(list(pending))
        for tp, end in pending.items():
            consumer.seek(tp, max(begins[tp], end - window))
        while any(consumer.position(tp, timeout_ms=deadline.left_ms()) < end for tp, end in pending.items()):
            if deadline.left_s() <= 0:
                raise KafkaTimeoutError(f"reading {topic}")
            for tp, records in consumer.poll(timeout_ms=min(200, deadline.left_ms())).items():
                for record in records:
                    if record.offset < pending.get(tp, -1):
                        last[tp] = record
        pending = {tp: end for tp, end in pending.items() if tp not in last}

    counters: dict[int, PartitionCounters] = {}
    warnings = []
    for tp, record in sorted(last.items(), key=lambda item: item[0].partition):
        if record.value is None:
            continue  # a tombstone: the counters were deleted
        try:
            counters[_raw_partition(record.key, tp.partition)] = PartitionCounters.model_validate_json(record.value)
        except ValueError as exc:
            first = str(exc).splitlines()[0]
            warnings.append(f"{topic} partition {tp.partition} offset {record.offset}: unreadable counters ({first})")
    return counters, warnings


def _raw_partition(key: bytes | None, default: int) -> int:
    """The raw partition a changelog key names (JSON of the partition number, e.g. b'"3"'), else `default`."""
    try:
        return int(json.loads(key)) if key is not None else default
    except (ValueError, TypeError):
        return default


def _first_waiting_ms(
    consumer, raw: str, raw_ends: dict[int, int], counters: dict[int, PartitionCounters], deadline: _Deadline
) -> dict[int, int]:
    """The Kafka timestamp of the first record waiting (offset last_offset + 1) in each partition with lag.
    Best effort within WAITING_BUDGET_S: a partition whose record did not come is left out."""
    from kafka import TopicPartition

    wanted = {}
    for p, end in raw_ends.items():
        offset = counters.get(p, PartitionCounters()).last_offset + 1
        if end > offset:
            wanted[TopicPartition(raw, p)] = offset
    if not wanted:
        return {}
    consumer.assign(list(wanted))
    for tp, offset in wanted.items():
        consumer.seek(tp, offset)  # below the log start (retention): auto_offset_reset takes the first one kept
    found: dict[int, int] = {}
    budget = _Deadline(min(WAITING_BUDGET_S, deadline.left_s()))
    while len(found) < len(wanted) and budget.left_s() > 0:
        for tp, records in consumer.poll(timeout_ms=min(200, budget.left_ms())).items():
            first = next((r for r in records if r.offset >= wanted[tp]), None)
            if first is not None and tp.partition not in found:
                found[tp.partition] = first.timestamp
                consumer.pause(tp)
    return found


# -- Redis (optional) ----------------------------------------------------------------------------------


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}"


def read_services(settings: Settings, timeout_s: float = REDIS_TIMEOUT_S) -> tuple[list[dict] | None, str | None]:
    """(the services `lytte up` recorded, or None if there are none; None, or the line saying Redis is down)."""
    import redis

    from streams.redis_client import bounded_redis

    client = bounded_redis(settings, timeout_s)
    try:
        raw = _bounded(lambda: client.hgetall(RedisKeys(settings.redis_prefix).services), timeout_s + 0.5)
    except (_Timeout, redis.RedisError, OSError):
        return None, f"redis at {_where(settings.redis)} did not answer within {timeout_s:g} s: services unknown"
    finally:
        client.close()
    if not raw:
        return None, None
    services = []
    for name, value in sorted(raw.items()):
        try:
            services.append({"name": name.decode()} | json.loads(value))
        except ValueError:
            services.append({"name": name.decode(), "state": "unreadable"})
    return services, None


# -- formatting ----------------------------------------------------------------------------------------


COLUMNS = (
    ("partition", ">"),
    ("in topic", ">"),
    ("handled", ">"),
    ("matched", ">"),
    ("unmatched", ">"),
    ("deadlettered", ">"),
    ("duplicates", ">"),
    ("lag", ">"),
    ("last handled", "<"),
    ("stalled", "<"),
)


def status_table(status: PipelineStatus, now_ms: int) -> list[str]:
    """One row per partition and a total row, columns aligned."""
    rows = [
        [
            str(s.partition),
            str(s.raw_end),
            str(s.handled.posts_in),
            str(s.handled.matched),
            str(s.handled.unmatched),
            str(s.handled.deadlettered),
            str(s.handled.duplicates),
            str(s.lag),
            ago(s.handled.handled_ms, now_ms),
            "STALLED" if s.stalled else "",
        ]
        for s in status.partitions
    ]
    rows.append(
        [
            "total",
            str(status.raw_end),
            str(status.posts_in),
            str(status.matched),
            str(status.unmatched),
            str(status.deadlettered),
            str(status.duplicates),
            str(status.lag),
            ago(status.last_handled_ms, now_ms),
            "STALLED" if status.stalled else "",
        ]
    )
    header = [name for name, _ in COLUMNS]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(COLUMNS))]
    aligns = [align for _, align in COLUMNS]
    return [
        "  ".join(f"{cell:{align}{width}}" for cell, align, width in zip(row, aligns, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


def services_lines(services: list[dict] | None, error: str | None, now_ms: int) -> list[str]:
    """The services `lytte up` supervises, one line each; nothing when there are none."""
    if error:
        return [error]
    if not services:
        return []
    lines = ["services (lytte up):"]
    width = max(len(str(s.get("name", ""))) for s in services)
    for s in services:
        line = f"  {s.get('name', '?'):<{width}}  {s.get('state', '?'):<10}"
        if s.get("pid") is not None:
            line += f"  pid {s['pid']}"
        restarts = s.get("restarts") or 0
        if restarts:
            line += f"  restarts {restarts} ({s.get('restarts_recent', 0)} in the last 10 min)"
        if s.get("last_exit_code") is not None:
            line += f"  last exit code {s['last_exit_code']}"
            if s.get("last_exit_ms"):
                line += f" {ago(s['last_exit_ms'], now_ms)}"
        lines.append(line)
    return lines


def status_text(
    status: PipelineStatus,
    now_ms: int,
    first_waiting_ms: dict[int, int] | None = None,
    services: list[dict] | None = None,
    services_error: str | None = None,
    warnings: list[str] | None = None,
) -> str:
    lines = [*status_table(status, now_ms), pipeline_line(status, now_ms, first_waiting_ms)]
    lines += [f"warning: {w}" for w in warnings or []]
    lines += services_lines(services, services_error, now_ms)
    return "\n".join(lines)


def status_json(status: PipelineStatus, services: list[dict] | None, services_error: str | None = None) -> str:
    """The PipelineStatus as JSON, plus `services` (None when unknown or none) and, if Redis did not answer,
    `services_error`."""
    document = json.loads(status.model_dump_json()) | {"services": services}
    if services_error:
        document["services_error"] = services_error
    return json.dumps(document)


# -- the command ---------------------------------------------------------------------------------------


def run_status(settings: Settings, as_json: bool = False, timeout_s: float = 10.0) -> PipelineStatus:
    """Print the status (text or JSON) and return it. Raises ServiceError if Kafka does not answer."""
    snapshot = read_kafka(settings, timeout_s)
    now_ms = int(time.time() * 1000)
    status = pipeline_status(
        snapshot.raw_ends,
        snapshot.counters,
        now_ms,
        snapshot.first_waiting_ms,
        stall_after_ms=int(settings.stall_after_s * 1000),
    )
    services, services_error = read_services(settings)
    if as_json:
        print(status_json(status, services, services_error), flush=True)
    else:
        text = status_text(status, now_ms, snapshot.first_waiting_ms, services, services_error, snapshot.warnings)
        print(text, flush=True)
    return status
