"""The alerts of one brand: what the rules say holds, turned into firing and resolved `Alert` records.

A rule evaluates on event time (the posts' time, a watermark) and says which *conditions* hold now. This module
remembers which alerts fire and emits one record per transition: a firing record the first time a condition holds,
a resolved record when it stops holding (or an operator resolves it by hand). Everything is a pure function of the
state, the condition and the event time `at`, so the same inputs give byte-identical records live, in a replay and
in a backtest.

An alert's identity is its label set (`alertname`, `brand`, `severity` and the rule's extra labels), hashed by
`schemas.alerts.fingerprint` as Alertmanager does. Severity is a label: a rule that escalates from warning to
critical fires a new (critical) alert and resolves the warning one.

Decisions:

- **No record for evidence updates.** While an alert fires, later evaluations bring fresher evidence (more posts,
  a higher score). The alert log is a log of transitions: one firing and one resolved record per episode keeps it
  small, makes "the latest record per fingerprint is the state" hold, and gives the dispatcher nothing to re-announce
  (Alertmanager would not notify about a changed annotation either). The firing record keeps the evidence that made
  the alert fire; the resolved record carries the evidence at the resolution when the rule gives it. The wall shows
  live numbers from the metrics, not from the alert record.
- **Resolved by hand stays resolved while the condition holds.** After an operator resolves an alert whose
  condition still holds, the next evaluation would fire it again at once, which would make the resolve button
  useless. The fingerprint is *held*: `fire` emits nothing for it until the rule stops reporting the condition
  (`resolve` or `evaluate` without it), after which it can fire again as a new alert.
- **Times never go backwards.** A resolution at an event time before the alert's start (a watermark is monotonic,
  so only a caller's mistake) is recorded at the start: `ends_at >= starts_at` always.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from schemas.alerts import Alert, AlertEvidence, AlertStatus, Severity, fingerprint

#: labels every alert has and that a rule's extra labels may not replace
RESERVED_LABELS = ("alertname", "brand", "severity")


@dataclass(frozen=True)
class Condition:
    """What a rule says holds now (event time) for one brand.

    Scenario: the key_person rule sees a post by ingrid_news about nordair -> Condition(rule="key_person",
    brand="nordair", severity=Severity.WARNING, extra_labels=(("person", "ingrid_news"),), evidence=...,
    summary="nordair: ingrid_news (212,000 followers) posted about nordair").
    """

    rule: str
    brand: str
    severity: Severity
    #: what makes the alert distinct beyond rule, brand and severity: (("person", "ingrid_news"),), (("post", "x:1"),)
    extra_labels: tuple[tuple[str, str], ...]
    evidence: AlertEvidence
    #: one line for annotations["summary"]
    summary: str


def labels_of(c: Condition) -> dict[str, str]:
    """The alert's labels: rule, brand and severity, then the extra labels.

    Scenario: Condition(rule="key_person", brand="nordair", severity=WARNING, extra_labels=(("person",
    "ingrid_news"),)) -> {"alertname": "key_person", "brand": "nordair", "severity": "warning", "person":
    "ingrid_news"}. An extra label named alertname, brand or severity raises ValueError (it would change the
    alert's identity behind the rule's back).
    """
    return labels_for(c.rule, c.brand, c.severity, c.extra_labels)


def labels_for(rule: str, brand: str, severity: Severity, extra: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    """`labels_of` from its parts, for a rule that needs an alert's identity before it has its evidence:
    ("viral", "nordair", WARNING, (("post", "x:1"),)) -> {"alertname": "viral", "brand": "nordair", "severity":
    "warning", "post": "x:1"}."""
    labels = {"alertname": rule, "brand": brand, "severity": Severity(severity).value}
    for name, value in extra:
        if name in RESERVED_LABELS:
            raise ValueError(f"rule {rule}: extra label {name!r} is reserved (alertname, brand and severity are set)")
        labels[name] = value
    return labels


class BrandAlerts(BaseModel):
    """The alerts of one brand that fire now (and those resolved by hand while their condition still holds).

    JSON-serialisable and bounded: a fingerprint leaves the state when its alert resolves (or, when held, when its
    condition stops holding)."""

    model_config = ConfigDict(frozen=True)

    #: fingerprint -> the firing record of the alert
    active: dict[str, Alert] = {}
    #: fingerprint -> rule, of alerts resolved by hand whose condition still holds: `fire` ignores them
    held: dict[str, str] = {}


def _check_brand(state: BrandAlerts, brand: str) -> None:
    for alert in state.active.values():
        if alert.brand != brand:
            raise ValueError(f"BrandAlerts holds {alert.brand!r} alerts; got a condition of {brand!r}")
        return


def fire(state: BrandAlerts, c: Condition, at: datetime) -> tuple[BrandAlerts, list[Alert]]:
    """A firing record the first time a condition holds; nothing while its alert already fires.

    Scenario: an empty state, a volume_spike condition for nordair at 12:00 -> one record (status firing,
    starts_at = event_time = 12:00, ends_at None, annotations {"summary": c.summary}, the condition's evidence) and
    the alert active. The same condition again at 12:01 with a higher score -> no record, the state unchanged (the
    12:00 evidence is kept: see the module's notes). A held fingerprint (resolved by hand) -> no record.
    """
    _check_brand(state, c.brand)
    labels = labels_of(c)
    fp = fingerprint(labels)
    if fp in state.active or fp in state.held:
        return state, []
    alert = Alert(
        fingerprint=fp,
        status=AlertStatus.FIRING,
        labels=labels,
        annotations={"summary": c.summary} if c.summary else {},
        starts_at=at,
        event_time=at,
        evidence=c.evidence,
    )
    return state.model_copy(update={"active": {**state.active, fp: alert}}), [alert]


def _resolved(alert: Alert, at: datetime, evidence: AlertEvidence | None, annotations: dict[str, str]) -> Alert:
    ends = max(at, alert.starts_at)
    return Alert(
        fingerprint=alert.fingerprint,
        status=AlertStatus.RESOLVED,
        labels=alert.labels,
        annotations={**alert.annotations, **annotations},
        starts_at=alert.starts_at,
        ends_at=ends,
        event_time=ends,
        evidence=evidence if evidence is not None else alert.evidence,
    )


def resolve(
    state: BrandAlerts, fingerprint: str, at: datetime, evidence: AlertEvidence | None = None
) -> tuple[BrandAlerts, list[Alert]]:
    """A resolved record (status resolved, ends_at = event_time = at) if the alert fires; else nothing.

    Scenario: volume_spike fired at 12:00; the rule stops reporting it at 12:25 with evidence E -> one record
    (starts_at 12:00, ends_at 12:25, evidence E; without E the firing evidence) and the alert leaves the state. Again
    at 12:26 -> nothing. A held fingerprint -> no record, and it is no longer held (its condition is over, so it may
    fire again).
    """
    if fingerprint in state.held:
        return state.model_copy(update={"held": {f: r for f, r in state.held.items() if f != fingerprint}}), []
    alert = state.active.get(fingerprint)
    if alert is None:
        return state, []
    active = {fp: a for fp, a in state.active.items() if fp != fingerprint}
    return state.model_copy(update={"active": active}), [_resolved(alert, at, evidence, {})]


def resolve_by_hand(
    state: BrandAlerts, fingerprint: str, at: datetime, by: str, reason: str = ""
) -> tuple[BrandAlerts, list[Alert]]:
    """An operator's resolve action: a resolved record as `resolve` gives, with annotations["resolved_by"] = by
    (and ["resolved_reason"] when a reason is given); the fingerprint is then held until the rule stops reporting
    its condition.

    `at` is the brand's event-time watermark when the engine applies the action (not the action's wall-clock time),
    so that a replay of the log gives the same record.

    Scenario: negative_surge fires since 12:00; "ana" resolves it at 12:10 -> one record (ends_at 12:10,
    annotations {"summary": ..., "resolved_by": "ana"}); the rule still reports the surge at 12:11 -> `fire` emits
    nothing; the surge ends at 12:30 (`resolve`) -> nothing, and a new surge at 13:00 fires a new alert.
    An alert that does not fire -> nothing, nothing held.
    """
    alert = state.active.get(fingerprint)
    if alert is None:
        return state, []
    notes = {"resolved_by": by, **({"resolved_reason": reason} if reason else {})}
    active = {fp: a for fp, a in state.active.items() if fp != fingerprint}
    held = dict(sorted({**state.held, fingerprint: alert.rule}.items()))
    return state.model_copy(update={"active": active, "held": held}), [_resolved(alert, at, None, notes)]


def evaluate(
    state: BrandAlerts, rule: str, holding: Iterable[Condition], at: datetime
) -> tuple[BrandAlerts, list[Alert]]:
    """One evaluation of one rule: fire what holds, resolve this rule's alerts that no longer hold.

    Records come in a fixed order: firing records in the order of `holding`, then resolved records by fingerprint
    (firing first, so that an incident never looks empty while a rule escalates).

    Scenario: volume_spike warning fires for nordair; at the next evaluation the rule reports the same spike as
    critical -> [firing critical record, resolved warning record]; at the next one it reports nothing -> [resolved
    critical record]. A condition of another rule raises ValueError.
    """
    records: list[Alert] = []
    still: set[str] = set()
    for c in holding:
        if c.rule != rule:
            raise ValueError(f"evaluate({rule!r}) got a condition of rule {c.rule!r}")
        still.add(fingerprint(labels_of(c)))
        state, out = fire(state, c, at)
        records.extend(out)
    ended = sorted(
        {fp for fp, a in state.active.items() if a.rule == rule and fp not in still}
        | {fp for fp, r in state.held.items() if r == rule and fp not in still}
    )
    for fp in ended:
        state, out = resolve(state, fp, at)
        records.extend(out)
    return state, records
