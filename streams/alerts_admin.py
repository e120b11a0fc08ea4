"""`lytte alerts ...`: what is firing, and the operator's actions (silence, acknowledge, resolve), from a terminal.

Reads and writes Kafka only, so it works while Redis or the dashboard is down: `list` folds the alerts,
incidents and actions topics (the latest record per alert is its state); the actions are records on
`lytte.actions`, which the alert engine's worker applies (the dispatcher stops notifying what is silenced or
acknowledged; a resolve closes the alert). Every Kafka call is bounded.
"""

from __future__ import annotations

import getpass
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.alerts import Action, Alert, AlertStatus, Incident, Matcher, Silence
from schemas.settings import Settings
from schemas.topics import Topic
from streams.topic_read import TopicReadTimeout, read_all

#: Kafka gets this long to answer a read or a write.
KAFKA_TIMEOUT_S = 10.0

_FINGERPRINT = re.compile(r"^[0-9a-f]{16}$")
_INCIDENT = re.compile(r"^([a-z0-9][a-z0-9_-]*):[0-9]+$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


class AlertsAdminError(ValueError):
    """A bad argument or an unknown alert: one line for the operator."""


@dataclass
class AlertBoard:
    """The state of every alert, incident and silence, folded from the topics in log order."""

    alerts: dict[str, Alert] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    silences: dict[str, Silence] = field(default_factory=dict)
    acked: dict[str, Action] = field(default_factory=dict)

    def fold(self, alerts: Iterable[Alert], incidents: Iterable[Incident], actions: Iterable[Action]) -> AlertBoard:
        """Scenario: a firing and then a resolved record of one fingerprint -> that alert resolved; a silence
        action then its expiry -> no silence; an ack of an incident -> the incident and its alerts acked."""
        for alert in alerts:
            self.alerts[alert.fingerprint] = alert
        for incident in incidents:
            self.incidents[incident.id] = incident
        for action in actions:
            if action.kind == "silence" and action.silence is not None:
                self.silences[action.silence.id] = action.silence
            elif action.kind == "expire_silence" and action.silence_id:
                self.silences.pop(action.silence_id, None)
            elif action.kind == "ack":
                for target in self._targets(action):
                    self.acked[target] = action
        return self

    def _targets(self, action: Action) -> list[str]:
        if action.fingerprint:
            return [action.fingerprint]
        incident = self.incidents.get(action.incident or "")
        return [action.incident or "", *(incident.alerts if incident else ())]

    def firing(self) -> list[Alert]:
        return sorted(
            (a for a in self.alerts.values() if a.status == AlertStatus.FIRING),
            key=lambda a: (a.severity.rank, a.starts_at, a.brand),
        )

    def open_incidents(self) -> list[Incident]:
        return sorted((i for i in self.incidents.values() if i.status != "resolved"), key=lambda i: i.opened_at)

    def active_silences(self, now: datetime) -> list[Silence]:
        return sorted((s for s in self.silences.values() if s.starts_at <= now < s.ends_at), key=lambda s: s.ends_at)


def parse_duration(text: str) -> timedelta:
    """ "90m" -> 90 minutes; "2h", "1.5d", "30s"; anything else raises AlertsAdminError."""
    found = _DURATION.match(text.strip())
    if not found:
        raise AlertsAdminError(f"duration {text!r}: expected a number and s, m, h or d (e.g. 90m, 2h)")
    value, unit = float(found.group(1)), found.group(2)
    seconds = value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    if seconds <= 0:
        raise AlertsAdminError(f"duration {text!r} must be positive")
    return timedelta(seconds=seconds)


def operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def silence_action(matchers: list[str], duration: timedelta, reason: str, by: str, now: datetime) -> Action:
    """Scenario: ["brand=nordair", "alertname=volume_spike"], 2 h, "known outage" -> a silence action with those
    matchers from now until now + 2 h; no matcher or an empty reason -> AlertsAdminError."""
    if not matchers:
        raise AlertsAdminError("a silence needs at least one --match NAME=VALUE")
    if not reason.strip():
        raise AlertsAdminError("a silence needs a --reason")
    try:
        parsed = tuple(Matcher.parse(m) for m in matchers)
    except ValueError as exc:
        raise AlertsAdminError(str(exc)) from None
    brands = {m.value for m in parsed if m.name == "brand" and m.op == "="}
    silence = Silence(
        id=f"silence-{uuid.uuid4().hex[:12]}",
        matchers=parsed,
        starts_at=now,
        ends_at=now + duration,
        created_by=by,
        comment=reason.strip(),
    )
    return Action(
        id=f"action-{uuid.uuid4().hex}",
        kind="silence",
        at=now,
        by=by,
        reason=reason.strip(),
        brand=brands.pop() if len(brands) == 1 else None,
        silence=silence,
    )


def target_action(kind: str, target: str, board: AlertBoard, reason: str, by: str, now: datetime) -> Action:
    """An ack or resolve of an alert (its 16-digit fingerprint) or an incident (`brand:epoch`); unknown targets
    are refused, so that a typo does not silently acknowledge nothing."""
    common = {"id": f"action-{uuid.uuid4().hex}", "kind": kind, "at": now, "by": by, "reason": reason}
    if _FINGERPRINT.match(target):
        alert = board.alerts.get(target)
        if alert is None:
            raise AlertsAdminError(f"no alert {target} (lytte alerts list shows them)")
        return Action(**common, brand=alert.brand, fingerprint=target)
    found = _INCIDENT.match(target)
    if found and kind == "ack":
        if target not in board.incidents:
            raise AlertsAdminError(f"no incident {target} (lytte alerts list shows them)")
        return Action(**common, brand=found.group(1), incident=target)
    what = "an alert fingerprint (16 hex digits)" + (" or an incident id (brand:epoch)" if kind == "ack" else "")
    raise AlertsAdminError(f"{target!r} is not {what}")


def expire_action(silence_id: str, board: AlertBoard, by: str, now: datetime) -> Action:
    if silence_id not in board.silences:
        raise AlertsAdminError(f"no silence {silence_id} (lytte alerts list shows them)")
    return Action(id=f"action-{uuid.uuid4().hex}", kind="expire_silence", at=now, by=by, silence_id=silence_id)


# ---- Kafka ----------------------------------------------------------------------------------------------


def read_board(settings: Settings) -> AlertBoard:
    def load(topic: Topic, model) -> list:
        try:
            records = read_all(settings, topic.name(settings.topic_prefix), KAFKA_TIMEOUT_S, "lytte-alerts")
        except TopicReadTimeout as exc:
            raise AlertsAdminError(str(exc)) from None
        return [model.model_validate_json(r.value) for r in records if r.value is not None]

    return AlertBoard().fold(load(Topic.ALERTS, Alert), load(Topic.INCIDENTS, Incident), load(Topic.ACTIONS, Action))


def write_action(settings: Settings, action: Action) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap, acks="all", request_timeout_ms=int(KAFKA_TIMEOUT_S * 1000)
    )
    try:
        future = producer.send(
            Topic.ACTIONS.name(settings.topic_prefix),
            key=(action.brand or "").encode(),
            value=action.model_dump_json().encode(),
            partition=0,
        )
        future.get(timeout=KAFKA_TIMEOUT_S)
    finally:
        producer.close(timeout=KAFKA_TIMEOUT_S)


# ---- text -----------------------------------------------------------------------------------------------


def board_text(board: AlertBoard, now: datetime) -> list[str]:
    lines = []
    firing = board.firing()
    lines.append(f"firing: {len(firing)}")
    for a in firing:
        extra = " ".join(f"{k}={v}" for k, v in sorted(a.labels.items()) if k not in ("alertname", "brand", "severity"))
        acked = board.acked.get(a.fingerprint)
        lines.append(
            f"  {a.fingerprint}  {a.severity.value:<8} {a.brand:<14} {a.rule:<15} since {_ago(a.starts_at, now)}"
            + (f"  {extra}" if extra else "")
            + (f"  (acked by {acked.by})" if acked else "")
        )
        summary = a.annotations.get("summary")
        if summary:
            lines.append(f"      {summary}")
    incidents = board.open_incidents()
    lines.append(f"open incidents: {len(incidents)}")
    for i in incidents:
        acked = board.acked.get(i.id)
        lines.append(
            f"  {i.id}  {i.severity.value:<8} {len(i.firing)} firing of {len(i.alerts)}  {i.summary}"
            + (f"  (acked by {acked.by})" if acked else "")
        )
    silences = board.active_silences(now)
    lines.append(f"silences: {len(silences)}")
    for s in silences:
        matchers = ", ".join(f"{m.name}{m.op}{m.value}" for m in s.matchers)
        lines.append(f"  {s.id}  {matchers}  until {s.ends_at:%Y-%m-%d %H:%M} UTC  by {s.created_by}: {s.comment}")
    return lines


def _ago(at: datetime, now: datetime) -> str:
    seconds = max(0, int((now - at).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago ({at:%Y-%m-%d %H:%M} UTC)"
