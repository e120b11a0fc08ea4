"""What the health page (`/health`) says, decided from what was read: pure functions, no Redis, no Kafka, no threads.

The figures (`KafkaFigures`, `RedisFigures`, the pipeline's judgement, the throughput) become rows and big numbers
with a state each (ok / warning / bad): consumer lag per topic and partition, posts handled per second, worker
liveness, reachability, deadletters, webhook receivers and sources. `dashboards.health_data` reads the figures.

Throughput is measured from the Redis counters (`posts_in` per raw partition) sampled by the server process each
time the page reads them (`CounterSamples`: at most once a second, kept for 70 s): posts per second over the newest
minute of samples. So a dashboard that has just started says "measuring" for a couple of seconds, and the window is
shorter than a minute until it has watched for a minute.
"""

from __future__ import annotations

import codecs
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby

import orjson

from schemas import topics as topic_headers
from schemas.pipeline import PartitionCounters, PipelineStatus, ago, counter_totals, partition_counters, pipeline_line

OK, WARNING, BAD = "ok", "warning", "bad"
_SEVERITY = {OK: 0, WARNING: 1, BAD: 2}

#: the newest deadletter records listed
DEADLETTERS_SHOWN = 20
#: of a deadletter record's value, this much is kept and shown
PREVIEW_BYTES = 10 * 1024
#: a deadletter newer than this makes the deadletter figure a warning
DEADLETTER_RECENT_MS = 3600_000
#: a partition with records waiting and nothing handled for this long is falling behind (not yet stalled)
BEHIND_AFTER_MS = 10_000
#: throughput: the window, the samples kept, the least time between samples and the least span for a rate
RATE_WINDOW_S = 60.0
SAMPLES_KEPT_S = 70.0
SAMPLE_EVERY_S = 1.0
MIN_SPAN_S = 2.0
#: a source that has sent nothing for this long is a warning
SOURCE_QUIET_MS = 10 * 60_000
#: source states (as sources report them) that are healthy, and those that are trying to be
SOURCE_OK_STATES = frozenset({"connected", "streaming", "running", "live", "ok", "polling"})
SOURCE_WARNING_STATES = frozenset({"connecting", "reconnecting", "backoff", "rate_limited", "degraded", "starting"})

TP = tuple[str, int]


def worst(states: Iterable[str]) -> str:
    """The most severe state: worst(["ok", "bad", "warning"]) -> "bad"; worst([]) -> "ok"."""
    return max(states, key=_SEVERITY.__getitem__, default=OK)


def clock(ms: int, now_ms: int) -> str:
    """An epoch-ms time as a UTC clock time, with the date when it is not within the last day.

    >>> clock(1_764_000_000_000, 1_764_000_060_000), clock(1_764_000_000_000, 1_764_200_000_000)
    ('16:00:00 UTC', '2025-11-24 16:00 UTC')
    """
    t = datetime.fromtimestamp(ms / 1000, UTC)
    return t.strftime("%H:%M:%S UTC") if now_ms - ms < 86400_000 else t.strftime("%Y-%m-%d %H:%M UTC")


def when(ms: int, now_ms: int) -> str:
    """clock and ago together: "16:00:00 UTC (60 s ago)"."""
    return f"{clock(ms, now_ms)} ({ago(ms, now_ms)})"


# -- the figures ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """The last try to reach a service. `reachable` None: no answer yet (the first probe is still running)."""

    reachable: bool | None
    #: of the last probe that got an answer
    latency_ms: float | None = None
    #: when the last answer came (epoch ms)
    answered_ms: int | None = None
    #: while unreachable: since when (the first failure of this spell, epoch ms)
    since_ms: int | None = None
    error: str = ""

    def failed(self, now_ms: int, error: str) -> Probe:
        """This probe after a try that got no answer: the last answer kept, unreachable since the spell began.

        Scenario: Probe(True, 3.0, 1_000) failing at 5_000 -> Probe(False, 3.0, 1_000, since_ms=5_000, error);
        that failing again at 9_000 -> since_ms still 5_000.
        """
        return Probe(False, self.latency_ms, self.answered_ms, self.since_ms or now_ms, error)


@dataclass(frozen=True)
class Member:
    """A consumer of the worker group: a running worker."""

    id: str
    host: str
    client_id: str
    partitions: tuple[TP, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.host} · {self.id}" if self.host else self.id


@dataclass(frozen=True)
class GroupInfo:
    #: Kafka's group state: Stable, PreparingRebalance, CompletingRebalance, Empty, Dead (or "unknown")
    state: str
    members: tuple[Member, ...] = ()
    #: why the state is unknown, when Kafka said
    error: str = ""


@dataclass(frozen=True)
class DeadletterRecord:
    partition: int
    offset: int
    timestamp_ms: int
    reason: str
    source_topic: str
    source_partition: int | None
    source_offset: int | None
    key: bytes | None
    #: the first PREVIEW_BYTES of the value (None: the record has no value)
    head: bytes | None
    #: the whole value's length in bytes
    size: int

    @property
    def key_str(self) -> str:
        return f"{self.partition}:{self.offset}"


@dataclass(frozen=True)
class KafkaFigures:
    #: when they were read (epoch ms)
    read_ms: int
    group: GroupInfo
    committed: dict[TP, int]
    begins: dict[TP, int]
    ends: dict[TP, int]
    #: newest first, at most DEADLETTERS_SHOWN
    deadletters: tuple[DeadletterRecord, ...] = ()


@dataclass(frozen=True)
class RedisFigures:
    read_ms: int
    counters: dict[int, PartitionCounters]
    updated_ms: int | None
    configured: bool
    services: list[dict]
    receivers: list[dict]
    #: source name -> its report; None when no source has reported (the key is absent)
    sources: dict[str, dict | None] | None


@dataclass(frozen=True)
class PipelineReading:
    status: PipelineStatus
    first_waiting_ms: dict[int, int]
    judged_ms: int
    #: False: the last judgement, kept while Kafka or Redis does not answer
    current: bool = True


@dataclass(frozen=True)
class Sample:
    at_s: float
    posts_in: dict[int, int]


@dataclass(frozen=True)
class Throughput:
    #: posts handled per second over `span_s`; None while measuring
    per_s: float | None
    partitions: dict[int, float] = field(default_factory=dict)
    span_s: float = 0.0


@dataclass(frozen=True)
class HealthView:
    """Everything the page shows, as read; `summarise` turns it into rows."""

    now_ms: int
    group_id: str
    raw_topic: str
    deadletter_topic: str
    redis: Probe
    kafka: Probe
    #: the last read (old when Redis does not answer)
    redis_figures: RedisFigures | None
    #: the last read (old when Kafka does not answer)
    kafka_figures: KafkaFigures | None
    pipeline: PipelineReading | None
    throughput: Throughput


# -- parsing what Kafka and Redis hold ---------------------------------------------------------------------------


def group_info(described: dict | None) -> GroupInfo:
    """kafka-python's `describe_groups` entry for one group -> its state and members with their partitions.

    Scenario: {"group_state": "Stable", "members": [{"member_id": "faust-0.15.3-5a90ce6b-15f9-...", "client_id":
    "faust-0.15.3", "client_host": "/10.0.0.7", "member_assignment": {"assigned_partitions": [{"topic":
    "lytte.posts.raw", "partitions": [1, 0]}]}}]} -> GroupInfo("Stable", (Member("5a90ce6b", "10.0.0.7",
    "faust-0.15.3", (("lytte.posts.raw", 0), ("lytte.posts.raw", 1))),)). An assignment kafka-python could not
    decode (left as bytes) -> the member without partitions; None or an error -> state "unknown", no members.
    """
    if not described or described.get("error"):
        return GroupInfo("unknown", error=str((described or {}).get("error") or ""))
    members = []
    for m in described.get("members") or ():
        assignment = m.get("member_assignment")
        parts = assignment.get("assigned_partitions", ()) if isinstance(assignment, dict) else ()
        tps = tuple(sorted((a["topic"], p) for a in parts for p in a.get("partitions", ())))
        client_id = m.get("client_id") or ""
        member_id = m.get("member_id") or ""
        short = member_id.removeprefix(f"{client_id}-")[:8] if client_id else member_id[:8]
        members.append(Member(short, (m.get("client_host") or "").lstrip("/"), client_id, tps))
    return GroupInfo(described.get("group_state") or "unknown", tuple(sorted(members, key=lambda x: x.label)))


def lag_topics(group_id: str, raw_topic: str, committed: Iterable[TP], group: GroupInfo) -> list[str]:
    """The topics whose lag the page shows: posts.raw always, and every topic the group has committed offsets in
    or is assigned, except faust's own (`<app id>-...`: changelogs, the assignor's, which it reads, not consumes).

    Scenario: group "lytte", committed in lytte.signals, assigned lytte.posts.raw and lytte-counters-changelog ->
    ["lytte.posts.raw", "lytte.signals"].
    """
    found = {raw_topic} | {t for t, _ in committed} | {t for m in group.members for t, _ in m.partitions}
    return sorted(t for t in found if not t.startswith(f"{group_id}-"))


def deadletter_record(
    partition: int,
    offset: int,
    timestamp_ms: int,
    headers: Sequence[tuple[str, bytes | None]] | None,
    key: bytes | None,
    value: bytes | None,
) -> DeadletterRecord:
    """A record of the deadletter topic, with its reason and origin from the headers (`schemas.topics`).

    Scenario: headers [("lytte.reason", b"invalid UTF-8 at byte 0"), ("lytte.source.topic", b"lytte.posts.raw"),
    ("lytte.source.partition", b"1"), ("lytte.source.offset", b"17")], value b"\\xff" -> reason "invalid UTF-8 at
    byte 0", source lytte.posts.raw partition 1 offset 17, size 1. No headers -> reason "(no reason recorded)",
    source "" and None.
    """
    found = {name: (v or b"").decode("utf-8", "replace") for name, v in headers or ()}

    def number(name: str) -> int | None:
        text = found.get(name, "").strip()
        return int(text) if text.lstrip("-").isdigit() else None

    return DeadletterRecord(
        partition=partition,
        offset=offset,
        timestamp_ms=timestamp_ms,
        reason=found.get(topic_headers.DEADLETTER_REASON) or "(no reason recorded)",
        source_topic=found.get(topic_headers.DEADLETTER_TOPIC, ""),
        source_partition=number(topic_headers.DEADLETTER_PARTITION),
        source_offset=number(topic_headers.DEADLETTER_OFFSET),
        key=key,
        head=None if value is None else value[:PREVIEW_BYTES],
        size=0 if value is None else len(value),
    )


def newest_deadletters(records: Iterable[DeadletterRecord], n: int = DEADLETTERS_SHOWN) -> tuple:
    """The `n` newest by Kafka timestamp (then partition and offset), newest first."""
    return tuple(sorted(records, key=lambda r: (r.timestamp_ms, r.partition, r.offset), reverse=True)[:n])


@dataclass(frozen=True)
class Preview:
    text: str
    #: bytes of the value shown, and of the whole value
    shown: int
    size: int
    cut: bool
    #: some bytes were not UTF-8 and show as U+FFFD
    replaced: bool
    #: the record has no value at all
    empty: bool = False


def value_preview(head: bytes | None, size: int, limit: int = PREVIEW_BYTES) -> Preview:
    """A value as text to show: its first `limit` bytes, decoded as UTF-8 with U+FFFD for bytes that are not
    (a character split by the cut is dropped, not replaced).

    Scenario: b'{"text": "caf\\xe9"}' -> text '{"text": "caf\\ufffd"}', replaced, not cut. 12,000 bytes of "a" ->
    10,240 "a", cut, shown 10240 of 12000. None -> empty.
    """
    if head is None:
        return Preview("", 0, 0, cut=False, replaced=False, empty=True)
    part = head[:limit]
    cut = size > len(part)
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(part, final=not cut)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(part, final=not cut)
        replaced = False
    except UnicodeDecodeError:
        replaced = True
    return Preview(text, len(part), size, cut, replaced)


def _json_values(fields: dict) -> dict[str, dict | None]:
    """A Redis hash of JSON objects: name -> the parsed object (None when it is not one), sorted by name."""
    out: dict[str, dict | None] = {}
    for name, value in sorted(fields.items()):
        name = name.decode() if isinstance(name, bytes) else name
        try:
            parsed = orjson.loads(value)
        except (ValueError, TypeError):
            parsed = None
        out[name] = parsed if isinstance(parsed, dict) else None
    return out


def parse_services(fields: dict) -> list[dict]:
    """The services hash `lytte up` writes (name -> JSON) as dicts with their name, sorted; one that does not parse
    is {"name": ..., "state": "unreadable"}."""
    return [{"name": n} | ({"state": "unreadable"} if v is None else v) for n, v in _json_values(fields).items()]


def redis_figures(
    read_ms: int,
    counters: dict,
    updated: bytes | None,
    watch_exists: int,
    services: dict,
    receivers: dict,
    sources: dict,
) -> RedisFigures:
    """The replies of one Redis round trip (counters hash, updated, watch exists, services, receivers and sources
    hashes) as RedisFigures.

    Scenario: counters {"posts_in:0": "3", "last_offset:0": "2"}, updated b"1700000000000", watch 1, receivers
    {b"oncall": b'{"queued": 2}'}, no sources -> counters {0: posts_in 3}, updated_ms 1700000000000, configured,
    receivers [{"queued": 2, "receiver": "oncall"}], sources None (no source has reported). A receiver whose JSON
    does not parse is left out. Raises ValueError on counters or a time that are not numbers.
    """
    return RedisFigures(
        read_ms=read_ms,
        counters=partition_counters(counters),
        updated_ms=int(updated) if updated else None,
        configured=bool(watch_exists),
        services=parse_services(services),
        receivers=[v | {"receiver": v.get("receiver") or n} for n, v in _json_values(receivers).items() if v],
        sources=_json_values(sources) if sources else None,
    )


def _ms(value) -> int | None:
    """An ISO time (as orjson writes a datetime) or epoch ms as epoch ms; None if neither."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value:
        try:
            t = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return int((t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp() * 1000)
    return None


def _int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# -- throughput -------------------------------------------------------------------------------------------------


class CounterSamples:
    """The posts_in counters per partition as sampled over time (by one server process); not thread-safe."""

    def __init__(self) -> None:
        self.samples: deque[Sample] = deque()

    def add(self, at_s: float, posts_in: dict[int, int]) -> None:
        """Keep a sample (at most one a SAMPLE_EVERY_S, none older than SAMPLES_KEPT_S); a counter that went down
        (the view was rebuilt) starts the samples over."""
        if self.samples and any(posts_in.get(p, 0) < n for p, n in self.samples[-1].posts_in.items()):
            self.samples.clear()
        if self.samples and at_s - self.samples[-1].at_s < SAMPLE_EVERY_S:
            return
        self.samples.append(Sample(at_s, dict(posts_in)))
        while self.samples and at_s - self.samples[0].at_s > SAMPLES_KEPT_S:
            self.samples.popleft()


def throughput(samples: Sequence[Sample], window_s: float = RATE_WINDOW_S) -> Throughput:
    """Posts handled per second, from the oldest sample within `window_s` of the newest to the newest.

    Scenario: samples at t=0 {0: 100, 1: 50}, t=30 {0: 400, 1: 50}, t=60 {0: 700, 1: 50} -> 10.0/s, {0: 10.0,
    1: 0.0}, span 60 s. A sample at t=-30 as well -> still from t=0 (the window is 60 s). One sample, or samples
    less than MIN_SPAN_S apart -> per_s None ("measuring"). A partition missing from the first sample counts from 0.
    """
    if not samples:
        return Throughput(None)
    last = samples[-1]
    first = next(s for s in samples if last.at_s - s.at_s <= window_s)
    span = last.at_s - first.at_s
    if span < MIN_SPAN_S:
        return Throughput(None)
    per = {p: max(0, n - first.posts_in.get(p, 0)) / span for p, n in sorted(last.posts_in.items())}
    return Throughput(sum(per.values()), per, span)


# -- rows -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of a table on the page: its cells (plain text) and its state."""

    cells: tuple[str, ...]
    state: str
    #: data-* attributes for tests and styles, e.g. {"partition": "2", "lag": "0"}
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Figure:
    """A big number: its value, what it is, its state and an optional line under it."""

    name: str
    value: str
    label: str
    state: str
    note: str = ""


def owners(group: GroupInfo) -> dict[TP, str]:
    """(topic, partition) -> the label of the member that owns it."""
    return {tp: m.label for m in group.members for tp in m.partitions}


LAG_COLUMNS = ("topic", "partition", "committed", "end", "lag", "owner")


def lag_rows(figures: KafkaFigures) -> list[Row]:
    """Committed offsets against end offsets, per topic and partition, with a total row per topic.

    A partition's lag is its end less the committed offset (or, with nothing committed, less the log start: what
    the group would read). It is bad when records wait and no member owns it, a warning while the group
    rebalances with records waiting. Scenario: lytte.posts.raw partition 0 committed 90, end 100, owned by
    "10.0.0.7 · 5a90ce6b" in a Stable group -> ("lytte.posts.raw", "0", "90", "100", "10", "10.0.0.7 · 5a90ce6b"),
    ok; the same with the group Empty and no owner -> owner "none", bad; then a row ("lytte.posts.raw", "total",
    "", "100", "10", "") with the worst state of its partitions.
    """
    own = owners(figures.group)
    rebalancing = figures.group.state not in ("Stable", "unknown")
    out: list[Row] = []
    for topic, tps in groupby(sorted(figures.ends), key=lambda tp: tp[0]):
        rows, ends, lags = [], [], []
        for tp in tps:
            end, committed = figures.ends[tp], figures.committed.get(tp)
            lag = max(0, end - max(figures.begins.get(tp, 0), committed or 0))
            owner = own.get(tp)
            state = BAD if lag and owner is None else WARNING if lag and rebalancing else OK
            committed_text = "none" if committed is None else f"{committed:,}"
            cells = (topic, str(tp[1]), committed_text, f"{end:,}", f"{lag:,}", owner or "none")
            rows.append(Row(cells, state, {"topic": topic, "partition": str(tp[1]), "lag": str(lag)}))
            ends.append(end)
            lags.append(lag)
        total = Row(
            (topic, "total", "", f"{sum(ends):,}", f"{sum(lags):,}", ""),
            worst(r.state for r in rows),
            {"topic": topic, "partition": "total", "lag": str(sum(lags))},
        )
        out += [*rows, total]
    return out


PARTITION_COLUMNS = ("partition", "in topic", "handled", "deadlettered", "lag", "posts/s", "last handled", "owner")


def partition_rows(
    reading: PipelineReading, rates: Throughput, own: dict[TP, str], raw_topic: str, now_ms: int
) -> list[Row]:
    """posts.raw per partition: what the worker counted against what the topic holds (`schemas.pipeline`).

    Stalled (the wall's judgement) is bad; records waiting with nothing handled for BEHIND_AFTER_MS is a warning.
    Scenario: partition 1 ends at 50, handled through 19 at now - 40 s, stalled -> ("1", "50", "20", "0", "30",
    rate, "40 s ago", owner) bad, data stalled "1".
    """
    rows = []
    for s in reading.status.partitions:
        behind = s.lag > 0 and now_ms - s.handled.handled_ms > BEHIND_AFTER_MS
        rate = "…" if rates.per_s is None else f"{rates.partitions.get(s.partition) or 0.0:,.1f}"
        cells = (str(s.partition), f"{s.raw_end:,}", f"{s.handled.posts_in:,}", f"{s.handled.deadlettered:,}")
        cells += (f"{s.lag:,}", rate, ago(s.handled.handled_ms, now_ms), own.get((raw_topic, s.partition), "none"))
        data = {"partition": str(s.partition), "lag": str(s.lag), "stalled": "1" if s.stalled else "0"}
        rows.append(Row(cells, BAD if s.stalled else WARNING if behind else OK, data))
    return rows


WORKER_COLUMNS = ("worker", "state")


def worker_rows(
    group: GroupInfo | None, group_id: str, raw_topic: str, pipeline: PipelineReading | None, now_ms: int
) -> list[Row]:
    """Liveness: the pipeline's verdict first (STALLED is bad), then each member of the worker group with the
    posts.raw partitions it owns (ok in a Stable group, a warning while it rebalances), or one bad row when the
    group has no member.

    Scenario: group "lytte" Stable with one member owning posts.raw 0-3, pipeline ok -> [("pipeline", "pipeline:
    ok") ok, ("worker 10.0.0.7 · 5a90ce6b", "alive · posts.raw partitions 0, 1, 2, 3 · group Stable") ok]. Group
    Empty -> ("consumer group lytte", "no worker: the group is Empty") bad.
    """
    rows = []
    if pipeline is not None:
        line = pipeline_line(pipeline.status, now_ms, pipeline.first_waiting_ms)
        if not pipeline.current:
            line += f" (as of {when(pipeline.judged_ms, now_ms)})"
        state = BAD if pipeline.status.stalled else WARNING if pipeline.status.last_handled_ms == 0 else OK
        rows.append(Row(("pipeline", line), state, {"kind": "pipeline", "stalled": str(int(pipeline.status.stalled))}))
    name = f"consumer group {group_id}"
    if group is None:
        return [*rows, Row((name, "unknown: Kafka has not answered"), WARNING, {"kind": "group"})]
    if group.state == "unknown" or not group.members:
        if group.state == "unknown":
            text, state = (f"unknown: {group.error}" if group.error else "unknown"), WARNING
        else:
            text, state = f"no worker: the group is {group.state}", BAD
        return [*rows, Row((name, text), state, {"kind": "group", "state": group.state})]
    stable = group.state == "Stable"
    for m in group.members:
        raw = [p for t, p in m.partitions if t == raw_topic]
        owned = f"posts.raw partitions {', '.join(map(str, raw))}" if raw else "no posts.raw partition"
        text = f"{'alive' if stable else 'rebalancing'} · {owned} · group {group.state}"
        rows.append(Row((f"worker {m.label}", text), OK if stable else WARNING, {"kind": "member"}))
    return rows


SERVICE_COLUMNS = ("service", "state")


def service_rows(services: list[dict], now_ms: int) -> list[Row]:
    """The services `lytte up` runs (`streams.local.supervise.record`): running is ok, running after restarts in
    the last 10 min or restarting is a warning, stopped or unreadable is bad.

    Scenario: {"name": "worker", "state": "running", "pid": 42, "restarts": 2, "restarts_recent": 1} ->
    ("worker", "running · pid 42 · restarts 2 (1 in the last 10 min)") warning.
    """
    rows = []
    for s in services:
        state_text = str(s.get("state", "?"))
        parts = [state_text]
        if s.get("pid") is not None:
            parts.append(f"pid {s['pid']}")
        restarts, recent = _int(s.get("restarts")), _int(s.get("restarts_recent"))
        if restarts:
            parts.append(f"restarts {restarts} ({recent} in the last 10 min)")
        if s.get("last_exit_code") is not None:
            exit_ms = _ms(s.get("last_exit_ms"))
            parts.append(f"last exit code {s['last_exit_code']}" + (f" {ago(exit_ms, now_ms)}" if exit_ms else ""))
        if state_text == "running":
            state = WARNING if recent else OK
        else:
            state = WARNING if state_text == "restarting" else BAD
        rows.append(Row((str(s.get("name", "?")), " · ".join(parts)), state, {"kind": "service"}))
    return rows


RECEIVER_COLUMNS = ("receiver", "type", "host", "queued", "delivered", "failed", "dead", "last attempt", "last error")


def receiver_rows(receivers: list[dict], now_ms: int) -> list[Row]:
    """The webhook receivers' delivery status (`streams.notify.sender.ReceiverStatus` as JSON): disabled is bad
    (the reason and since when are in the last-error cell), failures or a retry waiting is a warning.

    Scenario: {"receiver": "oncall", "type": "generic", "host": "hooks.example.com", "queued": 2, "disabled":
    true, "disabled_since": "2026-11-24T12:00:00Z", "disabled_reason": "HTTP 410 Gone", "failed": 1} -> cells
    ("oncall", "generic", "hooks.example.com", "2", "0", "1", "0", "never", "DISABLED since 12:00:00 UTC (...):
    HTTP 410 Gone"), bad.
    """
    rows = []
    for r in receivers:
        failed, dead = _int(r.get("failed")), _int(r.get("dead"))
        attempt_ms = _ms(r.get("last_attempt_at"))
        last = ago(attempt_ms, now_ms) if attempt_ms else "never"
        if attempt_ms and r.get("last_status_code") is not None:
            last = f"HTTP {r['last_status_code']} {last}"
        error = str(r.get("last_error") or "")
        retry_ms = _ms(r.get("next_attempt_at"))
        if r.get("disabled"):
            since_ms = _ms(r.get("disabled_since"))
            since = f" since {when(since_ms, now_ms)}" if since_ms else ""
            error = f"DISABLED{since}: {r.get('disabled_reason') or 'no reason recorded'}"
            state = BAD
        else:
            if retry_ms:
                error = f"{error} · next try {clock(retry_ms, now_ms)}".lstrip(" ·")
            state = WARNING if failed or dead or retry_ms else OK
        name = str(r.get("receiver") or r.get("name") or "?")
        cells = (name, str(r.get("type", "")), str(r.get("host", "")), str(_int(r.get("queued"))))
        cells += (str(_int(r.get("delivered"))), str(failed), str(dead), last, error)
        rows.append(Row(cells, state, {"receiver": name, "disabled": "1" if r.get("disabled") else "0"}))
    return rows


SOURCE_COLUMNS = ("source", "state", "last event", "events/min", "reconnects", "gaps")


def source_rows(sources: dict[str, dict | None], now_ms: int) -> list[Row]:
    """The sources' reports (`{prefix}:sources`: name -> state, last_event_ms, events_per_min, reconnects, gaps):
    a healthy state with an event in the last SOURCE_QUIET_MS is ok; reconnecting (and the like), quiet, or gaps
    is a warning; any other state, or a report that does not parse, is bad.

    Scenario: {"x": {"state": "connected", "last_event_ms": now - 5 s, "events_per_min": 120, "reconnects": 0,
    "gaps": 0}} -> ("x", "connected", "5 s ago", "120", "0", "0") ok.
    """
    rows = []
    for name, report in sources.items():
        if report is None:
            rows.append(Row((name, "unreadable report", "", "", "", ""), BAD, {"source": name}))
            continue
        state_text = str(report.get("state", "unknown"))
        last_ms = _ms(report.get("last_event_ms")) or 0
        rate = report.get("events_per_min")
        gaps, reconnects = _int(report.get("gaps")), _int(report.get("reconnects"))
        quiet = now_ms - last_ms > SOURCE_QUIET_MS
        if state_text.lower() in SOURCE_OK_STATES:
            state = WARNING if quiet or gaps else OK
        else:
            state = WARNING if state_text.lower() in SOURCE_WARNING_STATES else BAD
        rate_text = f"{rate:,.0f}" if isinstance(rate, int | float) and not isinstance(rate, bool) else ""
        cells = (name, state_text, ago(last_ms, now_ms), rate_text, str(reconnects), str(gaps))
        rows.append(Row(cells, state, {"source": name}))
    return rows


DEADLETTER_COLUMNS = ("time", "reason", "from", "size")


def deadletter_rows(records: Sequence[DeadletterRecord], now_ms: int) -> list[Row]:
    """The newest deadletters, newest first: time, reason, origin ("lytte.posts.raw[1]@17") and size.

    Scenario: a record of 2026-11-24 12:00 UTC, reason "invalid JSON", from lytte.posts.raw partition 1 offset 17,
    27 bytes, seen at 12:01 -> ("12:00:00 UTC (60 s ago)", "invalid JSON", "lytte.posts.raw[1]@17", "27 B"),
    warning (a deadletter is always worth a look), data key "p:offset".
    """
    rows = []
    for r in records:
        origin = r.source_topic or "?"
        if r.source_partition is not None:
            origin += f"[{r.source_partition}]"
        if r.source_offset is not None:
            origin += f"@{r.source_offset}"
        cells = (when(r.timestamp_ms, now_ms), r.reason, origin, _size(r.size))
        rows.append(Row(cells, WARNING, {"key": r.key_str, "reason": r.reason}))
    return rows


def _size(n: int) -> str:
    """27 -> "27 B", 12_000 -> "11.7 kB", 3_000_000 -> "2.9 MB"."""
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} kB"
    return f"{n / 1024 / 1024:.1f} MB"


# -- the whole page ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    rows: list[Row]
    #: a line over the table: how old its figures are, or why it is empty
    note: str = ""
    old: bool = False


@dataclass(frozen=True)
class HealthSummary:
    #: (state, text), the worst first; empty when everything is ok
    problems: list[tuple[str, str]]
    figures: list[Figure]
    workers: Section
    services: Section
    partitions: Section
    lag: Section
    deadletters: Section
    receivers: Section
    sources: Section


def reach_figure(name: str, probe: Probe, now_ms: int) -> Figure:
    """Reachability as a big number: the latency of the last probe, or DOWN and since when.

    Scenario: Kafka answering in 3.2 ms -> Figure("kafka", "3 ms", "Kafka reachable", ok, "latency of the last
    probe"); unreachable since 12:00:00 -> Figure("kafka", "DOWN", "Kafka unreachable", bad, "since 12:00:00 UTC
    (40 s ago)"); no answer yet -> Figure("kafka", "…", "Kafka: checking", warning).
    """
    title = name.capitalize()
    if probe.reachable is None:
        return Figure(name, "…", f"{title}: checking", WARNING, "no answer yet")
    if not probe.reachable:
        since = f"since {when(probe.since_ms, now_ms)}" if probe.since_ms else "no answer yet"
        return Figure(name, "DOWN", f"{title} unreachable", BAD, since)
    latency = f"{probe.latency_ms:,.0f} ms" if probe.latency_ms is not None else "ok"
    return Figure(name, latency, f"{title} reachable", OK, "latency of the last probe")


def summarise(view: HealthView) -> HealthSummary:
    """The rows, big numbers and problems of the page from what was read (pure; see each *_rows function).

    Figures kept from before Kafka (or Redis) stopped answering are shown, marked old, with the time they were read.
    """
    now = view.now_ms
    k, r, pipe = view.kafka_figures, view.redis_figures, view.pipeline
    kafka_old = k is not None and view.kafka.reachable is False
    redis_old = r is not None and view.redis.reachable is False
    kafka_note = f"Kafka unreachable: last known figures, from {when(k.read_ms, now)}" if kafka_old else ""
    group = k.group if k is not None else None

    workers = worker_rows(group, view.group_id, view.raw_topic, pipe, now)
    services = service_rows(r.services, now) if r is not None else []
    partitions = []
    if pipe is not None:
        partitions = partition_rows(pipe, view.throughput, owners(group) if group else {}, view.raw_topic, now)
    lag = lag_rows(k) if k is not None else []
    deadletters = deadletter_rows(k.deadletters, now) if k is not None else []
    receivers = receiver_rows(r.receivers, now) if r is not None else []
    sources = source_rows(r.sources, now) if r is not None and r.sources else []

    if kafka_old or k is None:
        deadletters_note = kafka_note
    else:
        shown = f"the newest {DEADLETTERS_SHOWN} of {view.deadletter_topic}"
        deadletters_note = shown if deadletters else f"{view.deadletter_topic} is empty"
    return HealthSummary(
        problems=_problems(view, workers, services, receivers, sources, lag),
        figures=[
            reach_figure("kafka", view.kafka, now),
            reach_figure("redis", view.redis, now),
            _workers_figure(group, pipe),
            _lag_figure(lag, partitions),
            _throughput_figure(view.throughput),
            _deadletters_figure(r, k, now),
        ],
        workers=Section(workers, kafka_note, kafka_old),
        services=Section(services, "" if services else "not run by `lytte up` (no services recorded)", redis_old),
        partitions=_partitions_section(partitions, view),
        lag=Section(lag, kafka_note or f"consumer group {view.group_id}", kafka_old),
        deadletters=Section(deadletters, deadletters_note, kafka_old),
        receivers=Section(receivers, "" if receivers else "no webhook receiver has reported", redis_old),
        sources=Section(sources, "" if sources else "no source reports yet", redis_old),
    )


def _problems(
    view: HealthView, workers: list[Row], services: list[Row], receivers: list[Row], sources: list[Row], lag: list[Row]
) -> list[tuple[str, str]]:
    """Every row that is not ok, as one line each, the worst first (in page order within a state)."""
    problems: list[tuple[str, str]] = []
    for title, probe in (("Kafka", view.kafka), ("Redis", view.redis)):
        if probe.reachable is False:
            since = f" since {when(probe.since_ms, view.now_ms)}" if probe.since_ms else ""
            problems.append((BAD, f"{title} unreachable{since}"))
    for row in workers:
        if row.state != OK:
            problems.append((row.state, row.cells[1] if row.data.get("kind") == "pipeline" else " ".join(row.cells)))
    problems += [(x.state, f"service {x.cells[0]}: {x.cells[1]}") for x in services if x.state != OK]
    problems += [(x.state, f"webhook {x.cells[0]}: {x.cells[8] or 'failures'}") for x in receivers if x.state != OK]
    problems += [(x.state, f"source {x.cells[0]}: {x.cells[1]}") for x in sources if x.state != OK]
    if any(x.state == BAD for x in lag):
        problems.append((BAD, "records are waiting in partitions no worker owns"))
    return sorted(problems, key=lambda p: -_SEVERITY[p[0]])


def _partitions_section(rows: list[Row], view: HealthView) -> Section:
    pipe, rate = view.pipeline, view.throughput
    if pipe is None:
        return Section([], "waiting for Kafka and Redis to answer")
    if not pipe.current:
        return Section(rows, f"last known figures, from {when(pipe.judged_ms, view.now_ms)}", True)
    measured = f"posts/s over the last {rate.span_s:.0f} s" if rate.per_s is not None else "posts/s: measuring"
    return Section(rows, f"{view.raw_topic} · {measured} (sampled by this dashboard)")


def _workers_figure(group: GroupInfo | None, pipe: PipelineReading | None) -> Figure:
    if pipe is not None and pipe.status.stalled:
        return Figure("workers", "STALLED", "pipeline", BAD, f"{pipe.status.lag:,} records waiting")
    if group is None:
        return Figure("workers", "?", "workers alive", WARNING, "Kafka has not answered")
    n = len(group.members)
    state = BAD if n == 0 else OK if group.state == "Stable" else WARNING
    return Figure("workers", str(n), "workers alive", state, f"group {group.state}")


def _lag_figure(lag: list[Row], partitions: list[Row]) -> Figure:
    totals = [int(x.data["lag"]) for x in lag if x.data.get("partition") == "total"]
    if not totals:
        return Figure("lag", "?", "records waiting", WARNING, "Kafka has not answered")
    state = worst([x.state for x in lag] + [x.state for x in partitions])
    return Figure("lag", f"{sum(totals):,}", "records waiting", state, "consumer lag, all topics")


def _throughput_figure(rate: Throughput) -> Figure:
    if rate.per_s is None:
        return Figure("throughput", "…", "posts/s", OK, "measuring")
    return Figure("throughput", f"{rate.per_s:,.1f}", "posts/s", OK, f"over the last {rate.span_s:.0f} s")


def _deadletters_figure(r: RedisFigures | None, k: KafkaFigures | None, now: int) -> Figure:
    """The deadlettered count (from the counters), a warning while the newest deadletter is under an hour old."""
    count = "?" if r is None else f"{counter_totals(r.counters)['deadlettered']:,}"
    newest = k.deadletters[0].timestamp_ms if k is not None and k.deadletters else 0
    state = WARNING if newest and now - newest < DEADLETTER_RECENT_MS else OK
    note = f"newest {ago(newest, now)}" if newest else "none in the deadletter topic"
    return Figure("deadletters", count, "deadlettered posts", state, note)
