"""The alert console's data: the alert view read from Redis into plain records (`ConsoleView`, with an
`AlertBoard` like the CLI's, from `schemas.alert_actions`, folded from Redis instead of Kafka), the operators'
actions made from what the console shows, and one Kafka producer per dashboard process that writes them to the
actions topic.

Redis is written by the alert engine's worker (`streams.agents.redis_sink.RedisSink.write_alerts`; key layout in
`schemas.redis_keys`). An action written here reaches Redis (and every open console) only after the worker has
applied it, so what the console shows is always what the engine knows.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from pydantic import ValidationError

from dashboards import live
from dashboards.data import LiveView
from schemas.alert_actions import (
    AlertBoard,
    AlertsAdminError,
    expire_action,
    parse_duration,
    silence_action,
    target_action,
)
from schemas.alerts import Action, Alert, AlertStatus, Incident, Silence, all_match
from schemas.settings import Settings
from schemas.topics import Topic

log = logging.getLogger(__name__)

#: transitions the history grid shows, of the newest HISTORY_KEPT Redis keeps
HISTORY_SHOWN = 100
HISTORY_KEPT = 500
#: incidents the incident grid shows (Redis keeps the newest 100): the open ones, then the newest resolved
INCIDENTS_SHOWN = 50
#: where the actions come from, on the record
ORIGIN = "dashboard"


# ---- reading --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsoleView:
    """Everything the console shows, as read at `read_at`."""

    #: the firing set (the truth for what fires now), most urgent first (severity, then the oldest)
    firing: list[Alert]
    #: open first (oldest first), then resolved (newest first)
    incidents: list[Incident]
    #: newest transition first
    history: list[Alert]
    #: the silences in force now, ending soonest first
    silences: list[Silence]
    #: receiver name -> delivery status (`streams.notify.sender.ReceiverStatus` as JSON), by name
    receivers: dict[str, dict]
    board: AlertBoard
    read_at: datetime
    #: records in Redis that could not be read (skipped, and logged)
    skipped: int = 0


def read_console(view: LiveView, now: datetime | None = None, history: int = HISTORY_SHOWN) -> ConsoleView:
    """The alert view in one Redis round trip (raises `redis.RedisError` when Redis does not answer)."""
    now = now or datetime.now(UTC)
    k = view.keys
    pipe = view.redis.pipeline(transaction=False)
    pipe.hvals(k.alerts_firing)
    pipe.zrevrange(k.alerts_history, 0, history - 1)
    pipe.hvals(k.incidents)
    pipe.hvals(k.acks)
    pipe.hvals(k.silences)
    pipe.hgetall(k.receivers)
    firing_raw, history_raw, incidents_raw, acks_raw, silences_raw, receivers_raw = pipe.execute()
    firing, bad_firing = parse_records(firing_raw, Alert)
    past, bad_history = parse_records(history_raw, Alert)
    incidents, bad_incidents = parse_records(incidents_raw, Incident)
    acks, bad_acks = parse_records(acks_raw, Action)
    silences, bad_silences = parse_records(silences_raw, Silence)
    receivers = {}
    for name, raw in receivers_raw.items():
        with contextlib.suppress(orjson.JSONDecodeError):
            receivers[name.decode(errors="replace")] = orjson.loads(raw)
    skipped = bad_firing + bad_history + bad_incidents + bad_acks + bad_silences + len(receivers_raw) - len(receivers)
    board = fold_board(firing, past, incidents, acks, silences)
    return ConsoleView(
        firing=sorted(firing, key=lambda a: (a.severity.rank, a.starts_at, a.brand)),
        incidents=incidents_in_order(incidents)[:INCIDENTS_SHOWN],
        history=past,
        silences=board.active_silences(now),
        receivers=dict(sorted(receivers.items())),
        board=board,
        read_at=now,
        skipped=skipped,
    )


def parse_records(raws: list[bytes], model) -> tuple[list, int]:
    """Each JSON record read as `model`; one that does not read is skipped (and counted), never fatal.

    Scenario: [a valid Silence JSON, b"not json"] with Silence -> ([that Silence], 1)."""
    out, bad = [], 0
    for raw in raws:
        try:
            out.append(model.model_validate_json(raw))
        except ValidationError as exc:
            bad += 1
            first = exc.errors(include_url=False, include_input=False)[0]
            log.warning("alert console: a %s in Redis does not read (%s); skipped", model.__name__, first["msg"])
    return out, bad


def fold_board(
    firing: list[Alert], history: list[Alert], incidents: list[Incident], acks: list[Action], silences: list[Silence]
) -> AlertBoard:
    """An `AlertBoard` from the Redis view: every alert's latest known record (the history's newest transition,
    then the firing set, which is the truth for what fires now), the incidents, the silences and the acks in the
    order they were made (an incident's ack also marks its alerts, as the CLI's board does).

    Scenario: history [A resolved 11:00, A firing 10:00] (newest first), firing [] -> board.alerts[A] resolved;
    A resolved by hand (its resolution has the firing's event time) -> resolved; an ack of incident I (alerts A, B)
    -> board.acked has I, A and B."""
    board = AlertBoard(silences={s.id: s for s in silences})
    # at the same event time a resolution comes after the firing it ends (a resolve by hand takes the engine's
    # newest event time, which can be the alert's own)
    latest = sorted(history, key=lambda a: (a.event_time, a.status == AlertStatus.RESOLVED)) + firing
    return board.fold(latest, incidents, sorted((a for a in acks if a.kind == "ack"), key=lambda a: a.at))


def incidents_in_order(incidents: list[Incident]) -> list[Incident]:
    """Open incidents first, oldest first (the longest-running needs attention first); then resolved ones, the
    newest first. Scenario: [resolved 09:00, open 11:00, open 10:00, resolved 12:00] -> [open 10:00,
    open 11:00, resolved 12:00, resolved 09:00]."""
    open_ = sorted((i for i in incidents if i.status != "resolved"), key=lambda i: i.opened_at)
    closed = sorted((i for i in incidents if i.status == "resolved"), key=lambda i: i.opened_at, reverse=True)
    return open_ + closed


def ack_for(alert: Alert, board: AlertBoard) -> Action | None:
    """The acknowledgement that covers this alert's current firing episode, as the dispatcher judges it: an ack of
    the alert made at or after the episode started, or an ack of an incident of it that is still open.

    Scenario: alert firing since 10:00, acked by ana at 10:05 -> that ack; the same fingerprint firing again since
    12:00 (a new episode) with only that 10:05 ack -> None; an ack of its incident, resolved since -> None."""
    ack = board.acked.get(alert.fingerprint)
    if ack is None:
        return None
    if ack.incident:
        incident = board.incidents.get(ack.incident)
        return ack if incident is not None and incident.status != "resolved" else None
    return ack if ack.at >= alert.starts_at else None


def silences_for(alert: Alert, silences: list[Silence]) -> list[Silence]:
    """The silences (already known to be in force) whose every matcher matches the alert's labels.

    Scenario: labels {brand: nordair, alertname: volume_spike}; silences [brand=nordair], [brand=skyjet] -> the
    first only."""
    return [s for s in silences if all_match(s.matchers, alert.labels)]


def history_row_id(alert: Alert) -> str:
    """The history grid's key of one transition: `<fingerprint>@<event time, epoch ms>:<status>`.

    Scenario: fingerprint 0123456789abcdef, firing at 2024-03-01T12:00:00.250Z ->
    "0123456789abcdef@1709294400250:firing"."""
    return f"{alert.fingerprint}@{_ms(alert.event_time)}:{alert.status.value}"


def find_alert(view: LiveView, kind: str, row_id: str) -> tuple[Alert | None, bool]:
    """The alert a selected row stands for, and whether it fires now. A firing row's alert that has resolved since
    is its newest transition in the history; a history row is that very transition."""
    k = view.keys
    if kind == "firing":
        raw = view.redis.hget(k.alerts_firing, row_id)
        if raw is not None:
            alerts, _ = parse_records([raw], Alert)
            if alerts:
                return alerts[0], True
        for start in range(0, HISTORY_KEPT, HISTORY_SHOWN):  # newest first, a page at a time: usually one page
            page = view.redis.zrevrange(k.alerts_history, start, start + HISTORY_SHOWN - 1)
            found = next((a for a in parse_records(page, Alert)[0] if a.fingerprint == row_id), None)
            if found is not None or len(page) < HISTORY_SHOWN:
                return found, False
        return None, False
    fingerprint, _, rest = row_id.partition("@")
    ms, _, status = rest.partition(":")
    if not ms.isdigit():
        return None, False
    near = view.redis.zrangebyscore(k.alerts_history, int(ms) / 1000 - 0.002, int(ms) / 1000 + 0.002)
    alerts, _ = parse_records(near, Alert)
    found = next((a for a in alerts if history_row_id(a) == f"{fingerprint}@{ms}:{status}"), None)
    if found is None:
        return None, False
    still = view.redis.hexists(k.alerts_firing, fingerprint) and found.status == AlertStatus.FIRING
    return found, bool(still)


def _ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


# ---- the operators' actions -------------------------------------------------------------------------------


class ActionRefused(ValueError):
    """The action cannot be made (nothing selected, an unknown target, a bad matcher or duration, no reason): one
    line for the operator. Nothing is written."""


def ack(target: str, board: AlertBoard, by: str, now: datetime, note: str = "") -> Action:
    """An acknowledgement of a firing alert (fingerprint) or an open incident (`brand:epoch`).

    Scenario: the fingerprint of a firing nordair alert, by "ana" -> Action(kind="ack", fingerprint=..,
    brand="nordair", by="ana", origin="dashboard"); a fingerprint the board does not know -> ActionRefused."""
    return _dashboard(_target("ack", target, board, by, now, note))


def resolve(target: str, board: AlertBoard, by: str, now: datetime, note: str = "") -> Action:
    """A resolve by hand of an alert (fingerprint) or of an open incident (the engine resolves the incident and
    every alert of it that fires). Scenario: an open incident "nordair:1709294400" -> Action(kind="resolve",
    incident="nordair:1709294400", brand="nordair"); a resolved incident -> ActionRefused."""
    return _dashboard(_target("resolve", target, board, by, now, note))


def silence(matchers_text: str, duration: str, reason: str, by: str, now: datetime) -> Action:
    """A silence from the console's form: one matcher a line, a duration like 30m, 2h or 1d, a reason.

    Scenario: "brand=nordair\\nalertname=key_person", "2h", "known outage" -> a silence action with those two
    matchers from now until now + 2 h; no matcher, no reason or "2 hours" -> ActionRefused saying what to fix."""
    lines = [line.strip() for line in (matchers_text or "").splitlines() if line.strip()]
    if not lines:
        raise ActionRefused("a silence needs at least one matcher: NAME=VALUE, one a line")
    if not (reason or "").strip():
        raise ActionRefused("a silence needs a reason")
    try:
        return _dashboard(silence_action(lines, parse_duration(duration or ""), reason, by, now))
    except AlertsAdminError as exc:
        raise ActionRefused(str(exc)) from None


def expire(silence_id: str, board: AlertBoard, by: str, now: datetime) -> Action:
    """The end, now, of a silence in force. Scenario: a silence id on the board -> Action(kind="expire_silence",
    silence_id=...); an id it does not know -> ActionRefused."""
    try:
        return _dashboard(expire_action(silence_id, board, by, now))
    except AlertsAdminError as exc:
        raise ActionRefused(str(exc).replace(" (lytte alerts list shows them)", "")) from None


def _target(kind: str, target: str, board: AlertBoard, by: str, now: datetime, note: str) -> Action:
    alert, incident = board.alerts.get(target), board.incidents.get(target)
    if alert is not None and alert.status != AlertStatus.FIRING:
        raise ActionRefused(f"alert {alert.rule} · {alert.brand} is not firing any more")
    if incident is not None and incident.status == "resolved":
        raise ActionRefused(f"incident {target} is already resolved")
    try:
        return target_action(kind, target, board, (note or "").strip(), by, now)
    except AlertsAdminError as exc:
        raise ActionRefused(str(exc).replace(" (lytte alerts list shows them)", "")) from None


def _dashboard(action: Action) -> Action:
    return action.model_copy(update={"origin": ORIGIN})


def matcher_line(name: str, value: str) -> str:
    """One line of the silence form for one label. The value is quoted only where `Matcher.parse` would misread
    it bare (empty, spaces at an end, a leading `~`, or already wrapped in quotes).

    Scenario: ("brand", "nordair") -> 'brand=nordair'; ("person", "~x") -> 'person="~x"'; ("a", "") -> 'a=""'."""
    bare = value and value == value.strip() and not value.startswith("~")
    if bare and not (len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'"):
        return f"{name}={value}"
    return f'{name}="{value}"'


def matchers_text(labels: dict[str, str]) -> str:
    """The silence form's matchers for an alert: every label, alertname and brand first. A label whose value
    holds a line break cannot be one line, so it is left out (the operator sees the matchers before sending).

    Scenario: {severity: warning, brand: nordair, alertname: key_person, person: ingrid_news} ->
    "alertname=key_person\\nbrand=nordair\\nperson=ingrid_news\\nseverity=warning"."""
    first = [n for n in ("alertname", "brand") if n in labels]
    names = first + sorted(n for n in labels if n not in first)
    return "\n".join(
        matcher_line(n, labels[n])
        for n in names
        if "\n" not in labels[n] and "\r" not in labels[n] and n.isidentifier()
    )


# ---- writing --------------------------------------------------------------------------------------------


class ActionNotWritten(RuntimeError):
    """Kafka did not take the action in time (or refused it). `maybe_sent`: the record left for the broker and only
    the confirmation is missing, so it may still apply. The operator sees the message, not a traceback."""

    def __init__(self, reason: str, maybe_sent: bool) -> None:
        super().__init__(reason)
        self.maybe_sent = maybe_sent


class ActionWriter:
    """Writes actions to the actions topic as the CLI's `write_action` (in `streams/alerts_admin.py`) does (same
    topic, key, value and partition), through one long-lived kafka-python producer instead of one per action.
    Every step is bounded by `TIMEOUT_S`; after a failure the producer is closed and the next action makes a new
    one (the broker may have moved or restarted)."""

    TIMEOUT_S = 5.0

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._lock = threading.Lock()
        self._producer = None

    def write(self, action: Action) -> None:
        producer, future = None, None
        try:
            with self._lock:  # one producer, made once, even when two operators click at the same moment
                if self._producer is None:
                    self._producer = self._new_producer()
                producer = self._producer
            future = producer.send(
                self.topic, key=(action.brand or "").encode(), value=action.model_dump_json().encode(), partition=0
            )
            future.get(timeout=self.TIMEOUT_S)
        except Exception as exc:
            self._drop(producer)
            log.warning("alert console: action %s (%s) not written to %s: %s", action.id, action.kind, self.topic, exc)
            raise ActionNotWritten(failure(exc), maybe_sent=future is not None) from None

    def close(self) -> None:
        self._drop(self._producer)

    def _new_producer(self):
        from kafka import KafkaProducer

        ms = int(self.TIMEOUT_S * 1000)
        return KafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id="lytte-dashboard-actions",
            acks="all",
            bootstrap_timeout_ms=ms,
            max_block_ms=ms,
            request_timeout_ms=ms,
            delivery_timeout_ms=ms + 1000,
            linger_ms=0,
        )

    def _drop(self, producer) -> None:
        if producer is None:
            return
        with self._lock:
            if self._producer is producer:
                self._producer = None
        with contextlib.suppress(Exception):
            producer.close(timeout=1)


def failure(exc: BaseException) -> str:
    """One short line: KafkaTimeoutError("KafkaTimeoutError: Unable to bootstrap") -> "KafkaTimeoutError: Unable to
    bootstrap"; ValueError("bad") -> "ValueError: bad" (cut at 160 characters)."""
    name, text = type(exc).__name__, str(exc)
    line = text if text.startswith(name) else f"{name}: {text}" if text else name
    return line[:160]


_writer: ActionWriter | None = None
_writer_lock = threading.Lock()


def writer() -> ActionWriter:
    """The dashboard process's action writer, made on first use from the dashboard's settings."""
    global _writer
    with _writer_lock:
        if _writer is None:
            settings: Settings = getattr(live, "settings", None) or Settings()
            _writer = ActionWriter(settings.bootstrap, Topic.ACTIONS.name(settings.topic_prefix))
        return _writer
