"""The operators' actions on alerts, made and folded without I/O: shared by the CLI (`lytte alerts ...`, in
`streams.alerts_admin`, which reads the board from Kafka and writes the actions) and the alert console
(`dashboards.alerts_data`, which reads the board from Redis).

`AlertBoard` is the state of every alert, incident and silence folded from records in log order; the builders
make `Action` records (silence, expire a silence, ack or resolve an alert or an incident) and refuse, with one line
for the operator, what would silently do nothing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.alerts import Action, Alert, AlertStatus, Incident, Matcher, Silence

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
    are refused, so that a typo does not silently acknowledge nothing, and so is a resolve of an incident that is
    resolved already (the engine would do nothing).

    Scenario: ("resolve", "nordair:1795000000") with that incident open on the board -> Action(kind="resolve",
    incident="nordair:1795000000", brand="nordair") (the engine resolves it and its firing alerts);
    ("ack", "0123456789abcdef") not on the board -> AlertsAdminError("no alert 0123456789abcdef ...")."""
    common = {"id": f"action-{uuid.uuid4().hex}", "kind": kind, "at": now, "by": by, "reason": reason}
    if _FINGERPRINT.match(target):
        alert = board.alerts.get(target)
        if alert is None:
            raise AlertsAdminError(f"no alert {target} (lytte alerts list shows them)")
        return Action(**common, brand=alert.brand, fingerprint=target)
    found = _INCIDENT.match(target)
    if found:
        incident = board.incidents.get(target)
        if incident is None:
            raise AlertsAdminError(f"no incident {target} (lytte alerts list shows them)")
        if kind == "resolve" and incident.status == "resolved":
            raise AlertsAdminError(f"incident {target} is already resolved")
        return Action(**common, brand=found.group(1), incident=target)
    raise AlertsAdminError(f"{target!r} is not an alert fingerprint (16 hex digits) or an incident id (brand:epoch)")


def expire_action(silence_id: str, board: AlertBoard, by: str, now: datetime) -> Action:
    """Scenario: a silence id on the board -> Action(kind="expire_silence", silence_id=...) (the silence ends now);
    an id the board does not know -> AlertsAdminError."""
    if silence_id not in board.silences:
        raise AlertsAdminError(f"no silence {silence_id} (lytte alerts list shows them)")
    return Action(id=f"action-{uuid.uuid4().hex}", kind="expire_silence", at=now, by=by, silence_id=silence_id)
