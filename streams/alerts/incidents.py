"""Incidents of one brand: its alerts close together in time, as one story (opened, updated, resolved).

A brand has at most one open incident. The first alert to fire when none is open opens one, with the id
`<brand>:<epoch seconds of that alert's starts_at>`. While it is open, every alert of the brand that fires or
resolves updates it. When none of its alerts fires any more, it waits `close_minutes` of *event time* (the
watermark passed to `on_time`, never a wall-clock timer) without a new alert; an alert that fires during that wait
joins the same incident; otherwise the incident is resolved. An operator can also resolve it by hand.

The state is a small frozen value, and every record is a pure function of the state and the alert records (event
time), so a backtest over the alerts topic gives byte-identical incident records.

Times: `opened_at` is the opening alert's `starts_at`; `updated_at` is the event time the record was decided (the
alert's `event_time`, or the end of the quiet period); `resolved_at` is when the incident ended: the end of its last
alert (the quiet period only confirms it), or the operator's resolve.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from schemas.alerts import Alert, AlertStatus, Incident, Severity


class Member(BaseModel):
    """What an incident remembers of one of its alerts (for its severity, `firing` and summary)."""

    model_config = ConfigDict(frozen=True)

    rule: str
    severity: Severity
    firing: bool
    #: posts and negative posts in the alert's evidence buckets (its latest record)
    posts: int = 0
    negative: int = 0


class BrandIncident(BaseModel):
    """The open incident of one brand, if any. JSON-serialisable; bounded by the alerts of one incident."""

    model_config = ConfigDict(frozen=True)

    #: the latest record of the open incident (None: no incident is open)
    open: Incident | None = None
    #: fingerprint -> member, in the order the alerts joined
    members: dict[str, Member] = {}
    #: when the last firing alert resolved (event time): the quiet period runs from here
    quiet_since: datetime | None = None


def _member(alert: Alert) -> Member:
    buckets = alert.evidence.buckets
    return Member(
        rule=alert.rule,
        severity=alert.severity,
        firing=alert.status == AlertStatus.FIRING,
        posts=sum(b.posts for b in buckets),
        negative=sum(b.negative for b in buckets),
    )


def _severity(members: dict[str, Member]) -> Severity:
    return min((m.severity for m in members.values()), key=lambda s: s.rank)


def summary_of(brand: str, members: dict[str, Member]) -> str:
    """One line: the brand, its rules (the most urgent first, then by name) and the posts and negative share in the
    evidence of its most urgent alert (the latest to join among equals), when that evidence has posts.

    Scenario: nordair with volume_spike (warning, 300 posts, 60 negative) and then negative_surge (critical, 412
    posts, 321 negative) -> "nordair: negative_surge, volume_spike; 412 posts, 78% negative"; a lone key_person
    alert without buckets -> "nordair: key_person".
    """
    if not members:
        return brand
    rank = {}
    for m in members.values():
        rank[m.rule] = min(rank.get(m.rule, m.severity.rank), m.severity.rank)
    rules = sorted(rank, key=lambda r: (rank[r], r))
    lead = min(reversed(list(members.values())), key=lambda m: m.severity.rank)
    text = f"{brand}: {', '.join(rules)}"
    if lead.posts:
        text += f"; {lead.posts:,} posts, {round(100 * lead.negative / lead.posts)}% negative"
    return text


def _record(
    state: BrandIncident,
    brand: str,
    status: str,
    members: dict[str, Member],
    at: datetime,
    opened_at: datetime | None = None,
    resolved_at: datetime | None = None,
    summary_suffix: str = "",
) -> Incident:
    current = state.open
    return Incident(
        id=current.id if current else f"{brand}:{int(opened_at.timestamp())}",
        brand=brand,
        status=status,
        opened_at=current.opened_at if current else opened_at,
        updated_at=at,
        resolved_at=resolved_at,
        severity=_severity(members),
        alerts=tuple(members),
        firing=tuple(fp for fp, m in members.items() if m.firing),
        summary=summary_of(brand, members) + summary_suffix,
    )


def on_alert(state: BrandIncident, alert: Alert) -> tuple[BrandIncident, list[Incident]]:
    """Apply one alert record of the brand.

    Scenario (close_minutes 15): volume_spike fires at 12:00 -> "opened" record, id "nordair:<epoch of 12:00>",
    severity warning, alerts = firing = (vs,). negative_surge fires at 12:05 -> "updated": severity critical,
    alerts (vs, ns), firing (vs, ns). volume_spike resolves at 12:20 -> "updated", firing (ns). negative_surge
    resolves at 12:30 -> "updated", firing () and the quiet period starts at 12:30. volume_spike fires again at
    12:40 -> "updated" (it joins the same incident, firing (vs)). The same record twice (at-least-once delivery),
    a resolution of an alert that is not firing in the incident, or a resolution with no open incident -> nothing.
    An alert of another brand raises ValueError.
    """
    brand = alert.brand
    if state.open is not None and state.open.brand != brand:
        raise ValueError(f"BrandIncident of {state.open.brand!r} got an alert of {brand!r}")
    fp = alert.fingerprint
    current = state.members.get(fp)
    if alert.status == AlertStatus.FIRING:
        if current is not None and current.firing:
            return state, []
        members = {**state.members, fp: _member(alert)}
        if state.open is None:
            record = _record(state, brand, "opened", members, alert.event_time, opened_at=alert.starts_at)
        else:
            record = _record(state, brand, "updated", members, alert.event_time)
        return BrandIncident(open=record, members=members, quiet_since=None), [record]
    if state.open is None or current is None or not current.firing:
        return state, []
    members = {**state.members, fp: _member(alert)}
    record = _record(state, brand, "updated", members, alert.event_time)
    quiet = None if any(m.firing for m in members.values()) else (alert.ends_at or alert.event_time)
    return BrandIncident(open=record, members=members, quiet_since=quiet), [record]


def on_time(state: BrandIncident, watermark: datetime, close_minutes: int) -> tuple[BrandIncident, list[Incident]]:
    """Event time has reached `watermark`: resolve the incident if it has been quiet for `close_minutes`.

    Scenario: the last alert of nordair's incident resolved at 12:30, close_minutes 15 -> watermark 12:44 ->
    nothing; watermark 12:45 (or any later one) -> one "resolved" record with resolved_at 12:30 and updated_at
    12:45 (the end of the quiet period, whatever the watermark's step, so live and backtest agree), and the brand
    has no open incident. An incident with a firing alert, or no incident -> nothing. With close_minutes 0 the
    incident resolves at the first watermark at or after its last alert's end.
    """
    if state.open is None or state.quiet_since is None:
        return state, []
    closes = state.quiet_since + timedelta(minutes=close_minutes)
    if watermark < closes:
        return state, []
    record = _record(state, state.open.brand, "resolved", state.members, closes, resolved_at=state.quiet_since)
    return BrandIncident(), [record]


def on_resolve_action(
    state: BrandIncident, incident_id: str, at: datetime, by: str
) -> tuple[BrandIncident, list[Incident]]:
    """An operator resolves the incident by hand: a "resolved" record now, whatever fires.

    `at` is the brand's event-time watermark when the engine applies the action (as for
    `lifecycle.resolve_by_hand`). The engine resolves the incident's firing alerts by hand too (the record's
    `firing` names them); apply the incident action first: their resolutions then find no open incident and make no
    record. An alert that fires afterwards opens a new incident.

    Scenario: nordair's incident "nordair:1709294400" with negative_surge firing; "ana" resolves it at 12:10 -> one
    record (status resolved, resolved_at = updated_at = 12:10, firing still (ns,), summary ending "(resolved by
    ana)"). Another id, or no open incident -> nothing.
    """
    if state.open is None or state.open.id != incident_id:
        return state, []
    record = _record(
        state, state.open.brand, "resolved", state.members, at, resolved_at=at, summary_suffix=f" (resolved by {by})"
    )
    return BrandIncident(), [record]
