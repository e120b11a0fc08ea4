"""From alert transitions, operator actions and the passage of wall-clock time to notifications per receiver.

Prometheus Alertmanager's semantics, in small pure stages (its packages: dispatch, inhibit, silence, notify's dedup
stage), over one frozen, JSON-serialisable `DispatchState`; the clock is always a parameter (`now`):

1. **Routing** (`compile_routes`, `match_routes`): the `Route` tree. An alert goes down the first child whose
   matchers all match, and on to the following siblings while the matching child has `continue: true`; a node none
   of whose children match takes the alert itself. Unset settings are inherited from the parent, the root's from
   `ROOT_DEFAULTS`. No `route` configured: with receivers, a root route (the defaults) to the first receiver; with
   none, nothing is dispatched. (Alertmanager refuses root matchers; here they are honoured: leave them empty.)
2. **Aggregation groups**, one per (route, values of the route's `group_by` labels; `...` means all labels). Group
   key as Alertmanager writes it: the route's key (its matchers from the root down, `{}/{severity="critical"}`),
   a colon, the group labels (`{brand="nordair"}`); two routes with the same key get `#<route id>` appended to the
   second. A new group flushes `group_wait` after its first alert, then every `group_interval`.
3. **Muting** at each flush: an alert is silenced while a `Silence` matches it (`starts_at <= t < ends_at`) and
   inhibited while a firing source alert of an `InhibitRule` (another alert, with equal values of the `equal`
   labels) fires; an alert matching both sides of a rule is not inhibited by sources that match both sides too
   (Alertmanager's rule, so that two such alerts cannot inhibit each other). Muted alerts stay in their group (they
   still show on the wall) but are not notified.
4. **Dedup** (Alertmanager's `DedupStage.needsUpdate`): at a flush the group notifies when a visible firing alert
   has not been told (a new alert, or one whose silence expired), when an alert that was told firing has resolved,
   or, with nothing new, when `repeat_interval` has passed since the last notification, unless every visible firing
   alert is acknowledged. A notification carries the group's visible firing alerts and its newly resolved ones
   (firing first, the most urgent first, then by start and fingerprint), at most `Receiver.max_alerts` of them (the
   rest counted in `truncated_alerts`); its status is firing while any alert in it fires. Resolved alerts leave the
   group once notified; a group with no alert left is removed.

Where this differs from Alertmanager, and why:

- **A receiver only hears of the end of what it was told.** A resolved alert is notified only to the receivers
  that were told it was firing (in their group's last notification), even if it is muted now: close what you
  opened. An alert that fires and resolves between two flushes, or while muted, is never notified (Alertmanager
  does the same for a group whose only alerts did that, but tells of such an alert beside other firing ones). An
  alert that fires again before the end of its told episode was notified has both episodes in the next
  notification (its fingerprint twice, with different `startsAt`), so that no told episode goes without its end.
- **No immediate flush of old alerts.** Alertmanager flushes a new group at once when its alert started more than
  `group_wait` ago. `starts_at` is event time here, not comparable with the dispatcher's wall clock (a replay
  catching up would skip every group_wait), so every new group waits `group_wait`.
- **Flushes on a fixed schedule.** A group's flushes are `first + k * group_interval` (Alertmanager re-arms a
  timer, which drifts by the time each flush takes). A late `tick` flushes once, at the latest scheduled time it
  has passed, and `created_at` of the notification is that scheduled time (within a tick of when it was decided).
  Every input first runs the flushes due before it, so a flush sees the inputs given before its scheduled time
  and no later ones: the output does not depend on the tick cadence, and the schedule and the ids can be
  recovered from the notification records after a restart.
- **Acknowledgements** (not an Alertmanager idea): an `ack` action of a fingerprint acknowledges the alert's current
  firing episode (its `starts_at`), until it resolves; an ack of an incident id acknowledges every alert of that
  incident, including alerts that join it later, until the incident resolves. Membership comes from `Incident`
  records (`on_incident`); an ack of an alert that does not fire, or of an incident not (yet) seen open, is ignored.
  An acknowledged alert is still notified when it resolves, and a new alert still notifies its group; only repeats
  stop.
- **Incident on notifications**: the open incident that holds the first alert of the notification (by the order
  above) when a group starts telling (its first notification, or the first after a resolved one), kept for the
  group's later notifications so that PagerDuty's dedup_key is the same for the trigger and the resolve.
- `group_interval` below 1 s is read as 1 s (Alertmanager refuses 0; 0 would make every tick a flush).

Webhook ids: `msg_` + 32 hex digits of SHA-256 over (receiver, group key, the scheduled flush time, the status, and
fingerprint, status and start of every alert carried). The same decision gives the same id however often it is
taken again (after a crash between deciding and recording it); two notifications of one group are at different
flush times or carry different alerts, so ids never repeat.

Restart: `Dispatcher.snapshot()`/`restore()` round-trip the state exactly; `rebuild()` reconstructs it from the
records (alerts, actions, incidents and the notifications already recorded), see there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from schemas.alert_config import ROOT_DEFAULTS, AlertsConfig, InhibitRule, Route
from schemas.alerts import (
    Action,
    Alert,
    AlertStatus,
    Incident,
    Matcher,
    Notification,
    Severity,
    Silence,
    all_match,
)

MIN_GROUP_INTERVAL = timedelta(seconds=1)

# ---- routing ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteNode:
    """A route with its inherited settings resolved. `id` is its position in the tree ("0", "0.1", ...)."""

    id: str
    key: str
    receiver: str
    matchers: tuple[Matcher, ...]
    group_by: tuple[str, ...]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    continue_: bool
    children: tuple[RouteNode, ...]

    def walk(self) -> Iterable[RouteNode]:
        yield self
        for child in self.children:
            yield from child.walk()


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def matchers_text(matchers: tuple[Matcher, ...]) -> str:
    """Alertmanager's way of writing matchers: (severity=critical, brand!=x) -> '{severity="critical",brand!="x"}'."""
    return "{" + ",".join(f"{m.name}{m.op}{_quote(m.value)}" for m in matchers) + "}"


def labels_text(labels: dict[str, str]) -> str:
    """A label set as Alertmanager writes it, sorted: {"brand": "nordair"} -> '{brand="nordair"}'."""
    return "{" + ", ".join(f"{k}={_quote(labels[k])}" for k in sorted(labels)) + "}"


def compile_routes(config: AlertsConfig) -> RouteNode | None:
    """The routing tree with every setting resolved, or None when there is nowhere to send.

    Scenario: route {receiver: oncall, group_by: [brand], routes: [{matchers: [severity=critical], receiver: pager,
    continue: true}]} -> root (id "0", key "{}", oncall, group_by (brand,), group_wait 30 s, group_interval 300 s,
    repeat 4 h) with one child (id "0.0", key '{}/{severity="critical"}', pager, the rest inherited). No route and
    receivers [oncall, social] -> a root to oncall with `ROOT_DEFAULTS`; no route and no receivers -> None.
    """
    route = config.route
    if route is None:
        if not config.receivers:
            return None
        route = Route(receiver=config.receivers[0].name)
    inherited = {
        "receiver": route.receiver,
        "group_by": tuple(ROOT_DEFAULTS["group_by"]),
        "group_wait_s": ROOT_DEFAULTS["group_wait_s"],
        "group_interval_s": ROOT_DEFAULTS["group_interval_s"],
        "repeat_interval_s": ROOT_DEFAULTS["repeat_interval_s"],
    }
    seen: set[str] = set()

    def build(r: Route, parent: dict, rid: str, parent_key: str | None) -> RouteNode:
        settings = {k: (getattr(r, k) if getattr(r, k) is not None else v) for k, v in parent.items()}
        key = matchers_text(r.matchers) if parent_key is None else f"{parent_key}/{matchers_text(r.matchers)}"
        children = tuple(build(c, settings, f"{rid}.{i}", key) for i, c in enumerate(r.routes))
        unique = key if key not in seen else f"{key}#{rid}"
        seen.add(unique)
        return RouteNode(
            id=rid,
            key=unique,
            receiver=settings["receiver"],
            matchers=r.matchers,
            group_by=tuple(settings["group_by"]),
            group_wait=timedelta(seconds=settings["group_wait_s"]),
            group_interval=max(timedelta(seconds=settings["group_interval_s"]), MIN_GROUP_INTERVAL),
            repeat_interval=timedelta(seconds=settings["repeat_interval_s"]),
            continue_=r.continue_,
            children=children,
        )

    return build(route, inherited, "0", None)


def match_routes(node: RouteNode | None, labels: dict[str, str]) -> list[RouteNode]:
    """The routes an alert goes to (Alertmanager's `Route.Match`).

    Scenario: root oncall with children [severity=critical -> pager (continue), brand=~"nord.*" -> social]: a
    critical nordair alert -> [pager, social]; a warning nordair alert -> [social]; a warning skyline alert ->
    [root (oncall)]. Without `continue` on the pager child, the critical nordair alert -> [pager].
    """
    if node is None or not all_match(node.matchers, labels):
        return []
    found: list[RouteNode] = []
    for child in node.children:
        matched = match_routes(child, labels)
        found.extend(matched)
        if matched and not child.continue_:
            break
    return found or [node]


def group_labels(route: RouteNode, labels: dict[str, str]) -> dict[str, str]:
    """The alert's values of the route's group_by labels (those it has): group_by (brand,) -> {"brand": "nordair"};
    ("...",) -> all its labels; () -> {} (one group for the route)."""
    if "..." in route.group_by:
        return dict(labels)
    return {k: labels[k] for k in route.group_by if k in labels}


def group_key(route: RouteNode, glabels: dict[str, str]) -> str:
    """'{}/{severity="critical"}:{brand="nordair"}': the route's key and the group labels."""
    return f"{route.key}:{labels_text(glabels)}"


# ---- state -----------------------------------------------------------------------------------------------------

#: an alert's firing episode: (fingerprint, starts_at)
Episode = tuple[str, datetime]


class Group(BaseModel):
    """An aggregation group: the alerts of one route with the same group labels, and what it last told."""

    model_config = ConfigDict(frozen=True)

    route: str
    receiver: str
    key: str
    labels: dict[str, str]
    #: wall-clock time of the group's first alert
    anchor: datetime
    #: when the group flushes next (scheduled: first + k * group_interval)
    next_flush: datetime
    #: fingerprint -> firing record, visible or muted
    members: dict[str, Alert] = {}
    #: fingerprint -> resolved record of an episode the group told firing, until a notification tells its end (kept
    #: apart from `members`, so that an alert firing again before that flush does not swallow the resolution)
    ended: dict[str, Alert] = {}
    #: the firing episodes the last notification told (carried or truncated), sorted; () before the first
    notified: tuple[Episode, ...] = ()
    last_notified_at: datetime | None = None
    incident: str | None = None
    #: notifications this group has sent
    sent: int = 0


class DispatchState(BaseModel):
    """Everything the dispatcher remembers; JSON-serialisable (`Dispatcher.snapshot`)."""

    model_config = ConfigDict(frozen=True)

    #: group key -> group
    groups: dict[str, Group] = {}
    #: fingerprint -> firing record, of every firing alert (inhibition sources, acknowledgements)
    firing: dict[str, Alert] = {}
    silences: dict[str, Silence] = {}
    #: fingerprint -> starts_at of the acknowledged firing episode
    acked: dict[str, datetime] = {}
    #: open incident id -> its alerts' fingerprints
    incidents: dict[str, tuple[str, ...]] = {}
    acked_incidents: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """The configuration, compiled once."""

    root: RouteNode | None
    inhibit: tuple[InhibitRule, ...]
    max_alerts: dict[str, int]
    routes: dict[str, RouteNode]

    @classmethod
    def of(cls, config: AlertsConfig) -> Plan:
        root = compile_routes(config)
        return cls(
            root=root,
            inhibit=config.inhibit,
            max_alerts={r.name: r.max_alerts for r in config.receivers},
            routes={r.id: r for r in root.walk()} if root is not None else {},
        )

    def route(self, rid: str) -> RouteNode | None:
        return self.routes.get(rid)


def _episode(alert: Alert) -> Episode:
    return (alert.fingerprint, alert.starts_at)


# ---- muting (Alertmanager's silence and inhibit packages) ------------------------------------------------------


def silenced(silences: Iterable[Silence], labels: dict[str, str], at: datetime) -> bool:
    """Whether an active silence matches: Silence(brand=nordair, 12:00-13:00) silences a nordair alert at 12:30,
    not at 13:00 (the end is excluded) and not a skyline alert."""
    return any(s.starts_at <= at < s.ends_at and all_match(s.matchers, labels) for s in silences)


def inhibited(rules: Iterable[InhibitRule], firing: dict[str, Alert], target: Alert) -> bool:
    """Whether a firing source alert inhibits the target (Alertmanager's `Inhibitor.Mutes`).

    Scenario: rule source alertname=negative_surge, target alertname=volume_spike, equal (brand,): a nordair
    volume_spike while nordair's negative_surge fires -> True; while only skyline's negative_surge fires -> False;
    an alert never inhibits itself.
    """
    for rule in rules:
        if not all_match(rule.target_matchers, target.labels):
            continue
        two_sided = all_match(rule.source_matchers, target.labels)
        for source in firing.values():
            if source.fingerprint == target.fingerprint or not all_match(rule.source_matchers, source.labels):
                continue
            if two_sided and all_match(rule.target_matchers, source.labels):
                continue
            if all(source.labels.get(n, "") == target.labels.get(n, "") for n in rule.equal):
                return True
    return False


def _muted(plan: Plan, state: DispatchState, alert: Alert, at: datetime) -> bool:
    return silenced(state.silences.values(), alert.labels, at) or inhibited(plan.inhibit, state.firing, alert)


def _acked(state: DispatchState, alert: Alert) -> bool:
    if state.acked.get(alert.fingerprint) == alert.starts_at:
        return True
    return any(alert.fingerprint in state.incidents.get(i, ()) for i in state.acked_incidents)


# ---- inputs ----------------------------------------------------------------------------------------------------


def receive_alert(plan: Plan, state: DispatchState, alert: Alert, now: datetime) -> DispatchState:
    """Put an alert record into its groups (no flush: see `flush_due`).

    Scenario (group_wait 30 s): nordair's volume_spike fires at 12:00:00 -> a group '{}:{brand="nordair"}' flushing
    at 12:00:30, holding it. Its resolved record at 12:00:10, before anything was told -> it leaves the group, which
    is removed (nothing to tell). Had the 12:00:30 flush told it, the resolved record would wait in `ended` until
    the next flush tells it (even if the alert fires again meanwhile). A resolved record of an episode that neither
    fires in the group nor was told -> ignored.
    """
    fp = alert.fingerprint
    firing, acked = dict(state.firing), dict(state.acked)
    if alert.status == AlertStatus.FIRING:
        firing[fp] = alert
    else:
        known = firing.get(fp)
        if known is not None and known.starts_at == alert.starts_at:
            del firing[fp]
            acked.pop(fp, None)
    groups = dict(state.groups)
    for route in match_routes(plan.root, alert.labels):
        glabels = group_labels(route, alert.labels)
        key = group_key(route, glabels)
        group = groups.get(key)
        if alert.status == AlertStatus.FIRING:
            if group is None:
                group = Group(
                    route=route.id,
                    receiver=route.receiver,
                    key=key,
                    labels=glabels,
                    anchor=now,
                    next_flush=now + route.group_wait,
                )
            groups[key] = group.model_copy(update={"members": {**group.members, fp: alert}})
            continue
        if group is None:
            continue
        member = group.members.get(fp)
        same = member is not None and member.starts_at == alert.starts_at
        told = _episode(alert) in group.notified
        if not same and not told:
            continue
        members, ended = dict(group.members), dict(group.ended)
        if same:
            del members[fp]
        if told:
            ended[fp] = alert
        if members or ended:
            groups[key] = group.model_copy(update={"members": members, "ended": ended})
        else:
            del groups[key]
    return state.model_copy(update={"firing": firing, "acked": acked, "groups": groups})


def receive_action(state: DispatchState, action: Action, now: datetime) -> DispatchState:
    """Apply an operator action: `silence` adds (or replaces, by id) a silence; `expire_silence` ends one now; `ack`
    acknowledges a firing alert's episode or an open incident; `resolve` changes nothing here (the engine emits the
    resolved Alert, which arrives through `receive_alert`)."""
    if action.kind == "silence" and action.silence is not None:
        return state.model_copy(update={"silences": {**state.silences, action.silence.id: action.silence}})
    if action.kind == "expire_silence" and action.silence_id in state.silences:
        return state.model_copy(
            update={"silences": {k: s for k, s in state.silences.items() if k != action.silence_id}}
        )
    if action.kind == "ack":
        if action.fingerprint is not None and action.fingerprint in state.firing:
            started = state.firing[action.fingerprint].starts_at
            return state.model_copy(update={"acked": {**state.acked, action.fingerprint: started}})
        if (
            action.incident is not None
            and action.incident in state.incidents
            and action.incident not in state.acked_incidents
        ):
            return state.model_copy(update={"acked_incidents": (*state.acked_incidents, action.incident)})
    return state


def receive_incident(state: DispatchState, incident: Incident) -> DispatchState:
    """Remember which alerts an open incident holds (for acks and the notifications' `incident`); forget it, and
    its ack, when it resolves."""
    if incident.status == "resolved":
        return state.model_copy(
            update={
                "incidents": {k: v for k, v in state.incidents.items() if k != incident.id},
                "acked_incidents": tuple(i for i in state.acked_incidents if i != incident.id),
            }
        )
    return state.model_copy(update={"incidents": {**state.incidents, incident.id: incident.alerts}})


# ---- flushing (Alertmanager's aggregation group flush and dedup stage) -----------------------------------------

Reason = Literal["new", "resolved", "repeat"]


def _order(alert: Alert) -> tuple:
    try:
        rank = Severity(alert.labels.get("severity", "")).rank
    except ValueError:
        rank = len(Severity)
    return (alert.status != AlertStatus.FIRING, rank, alert.starts_at, alert.fingerprint)


def needs_update(
    group: Group, visible: list[Alert], resolved: list[Alert], all_acked: bool, at: datetime, repeat: timedelta
) -> Reason | None:
    """Why the group notifies at this flush, or None (Alertmanager's `DedupStage.needsUpdate`).

    Scenario (repeat 4 h), the last notification at 12:00 told A firing: at 12:05 with A and a new B visible ->
    "new"; with A resolved -> "resolved"; with A still firing alone -> None at 12:05, "repeat" at 16:00, and None at
    16:00 if A is acknowledged. A group that told nothing yet, with A visible -> "new"; with every alert muted -> None.
    """
    if not {_episode(a) for a in visible} <= set(group.notified):
        return "new"
    if resolved:
        return "resolved"
    if visible and group.last_notified_at is not None and at - group.last_notified_at >= repeat and not all_acked:
        return "repeat"
    return None


def webhook_id(receiver: str, key: str, at: datetime, status: AlertStatus, alerts: Iterable[Alert]) -> str:
    """`msg_` + 32 hex digits, a function of the decision only: ("oncall", '{}:{brand="nordair"}', 12:00:30,
    firing, [A]) gives the same id every time, another flush time or other alerts another id."""
    parts = [receiver, key, at.isoformat(), status.value]
    parts += [f"{a.fingerprint}|{a.status.value}|{a.starts_at.isoformat()}" for a in alerts]
    return "msg_" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _incident_of(state: DispatchState, alerts: list[Alert]) -> str | None:
    for alert in alerts:
        for incident, members in sorted(state.incidents.items()):
            if alert.fingerprint in members:
                return incident
    return None


def flush(
    plan: Plan, state: DispatchState, group: Group, route: RouteNode, at: datetime
) -> tuple[Group | None, Notification | None]:
    """One flush of one group at scheduled time `at`: the group afterwards (None: removed) and what it sends.

    Scenario (max_alerts 20): a group told A firing; B fired since and A resolved -> a firing notification carrying
    [B firing, A resolved] (firing first), created_at = at; afterwards the group holds B, has told B, and A is gone.
    With B silenced instead -> a resolved notification carrying [A], and the group keeps B (muted, untold).
    """
    visible = [a for a in group.members.values() if not _muted(plan, state, a, at)]
    resolved = list(group.ended.values())
    all_acked = all(_acked(state, a) for a in visible)
    reason = needs_update(group, visible, resolved, all_acked, at, route.repeat_interval)
    if reason is None:
        return group, None
    alerts = sorted([*visible, *resolved], key=_order)
    limit = plan.max_alerts.get(group.receiver, len(alerts)) or len(alerts)
    carried = alerts[:limit]
    status = AlertStatus.FIRING if visible else AlertStatus.RESOLVED
    incident = group.incident if group.notified else _incident_of(state, alerts)
    note = Notification(
        webhook_id=webhook_id(group.receiver, group.key, at, status, carried),
        receiver=group.receiver,
        group_key=group.key,
        group_labels=group.labels,
        status=status,
        alerts=tuple(carried),
        created_at=at,
        incident=incident,
        truncated_alerts=len(alerts) - len(carried),
    )
    if not group.members:
        return None, note
    after = group.model_copy(
        update={
            "ended": {},
            "notified": tuple(sorted(_episode(a) for a in visible)),
            "last_notified_at": at,
            "incident": incident,
            "sent": group.sent + 1,
        }
    )
    return after, note


def _due_point(group: Group, route: RouteNode, now: datetime) -> datetime:
    """The latest scheduled flush at or before `now` (the group's next_flush is at or before now)."""
    steps = (now - group.next_flush) // route.group_interval
    return group.next_flush + steps * route.group_interval


def flush_due(plan: Plan, state: DispatchState, now: datetime) -> tuple[DispatchState, list[Notification]]:
    """Flush every group whose scheduled flush has come, in order of that time then key; drop ended silences.

    Scenario (group_wait 30 s, group_interval 5 min): a group created at 12:00:00 -> nothing at 12:00:29; its first
    notification at 12:00:30 (created_at 12:00:30) and its next flush at 12:05:30. A tick first at 12:16:00 (the
    worker was busy) flushes once, at 12:15:30, and schedules 12:20:30.
    """
    notes: list[Notification] = []
    groups = dict(state.groups)
    for key in sorted((k for k, g in groups.items() if g.next_flush <= now), key=lambda k: (groups[k].next_flush, k)):
        group = groups[key]
        route = plan.route(group.route)
        if route is None:  # the route left the configuration: nothing more to say for it
            del groups[key]
            continue
        at = _due_point(group, route, now)
        after, note = flush(plan, state, group, route, at)
        if note is not None:
            notes.append(note)
        if after is None:
            del groups[key]
        else:
            groups[key] = after.model_copy(update={"next_flush": at + route.group_interval})
    silences = {k: s for k, s in state.silences.items() if s.ends_at > now}
    return state.model_copy(update={"groups": groups, "silences": silences}), notes


def next_due(state: DispatchState) -> datetime | None:
    """The earliest scheduled flush (a flush may find nothing to send), or None with no group."""
    return min((g.next_flush for g in state.groups.values()), default=None)


# ---- the dispatcher --------------------------------------------------------------------------------------------


class Dispatcher:
    """The stages above behind one object: feed it records and the time, send what it returns.

    Pure: no I/O and no clock reads; `state` is the whole of it. Every call first flushes what fell due by `now`,
    then applies its input, then flushes again (so with group_wait 0 a new group's first alert is notified in the
    same call). A flush at scheduled time `t` therefore sees exactly the inputs given before `t`, whenever the tick
    that runs it comes: the notifications are a function of the timed inputs alone, the same for a tick every
    second or every minute (while ticks are closer than group_interval), and that is what lets `rebuild` replay.
    `now` must not go backwards.

    Scenario (defaults: group_wait 30 s, group_interval 5 min, repeat 4 h; one receiver "oncall"): on_alert(nordair
    volume_spike firing, 12:00:00) -> []; on_alert(nordair negative_surge firing, 12:00:10) -> []; tick(12:00:30) ->
    one firing notification to oncall carrying both; tick(12:01) -> []; the volume_spike resolves at 12:02 ->
    nothing until tick(12:05:30), which sends both again, the spike as resolved; then tick(16:05:30) repeats the
    surge, unless it was acknowledged.
    """

    def __init__(self, config: AlertsConfig, state: DispatchState | None = None) -> None:
        self.config = config
        self.plan = Plan.of(config)
        self.state = state if state is not None else DispatchState()

    def on_alert(self, alert: Alert, now: datetime) -> list[Notification]:
        before = self.tick(now)
        self.state = receive_alert(self.plan, self.state, alert, now)
        return before + self.tick(now)

    def on_action(self, action: Action, now: datetime) -> list[Notification]:
        before = self.tick(now)
        self.state = receive_action(self.state, action, now)
        return before + self.tick(now)

    def on_incident(self, incident: Incident, now: datetime) -> list[Notification]:
        before = self.tick(now)
        self.state = receive_incident(self.state, incident)
        return before + self.tick(now)

    def tick(self, now: datetime) -> list[Notification]:
        self.state, notes = flush_due(self.plan, self.state, now)
        return notes

    def next_due(self) -> datetime | None:
        return next_due(self.state)

    def snapshot(self) -> str:
        """The state as JSON: `Dispatcher.restore(config, d.snapshot())` continues exactly where `d` was."""
        return self.state.model_dump_json()

    @classmethod
    def restore(cls, config: AlertsConfig, snapshot: str | bytes) -> Dispatcher:
        return cls(config, DispatchState.model_validate_json(snapshot))


# ---- restart from the records ----------------------------------------------------------------------------------

_KIND_RANK = {"sent": 0, "incident": 1, "alert": 2, "action": 3}


def _route_for(plan: Plan, note: Notification) -> RouteNode | None:
    if plan.root is None:
        return None
    for route in plan.root.walk():
        if route.receiver == note.receiver and group_key(route, note.group_labels) == note.group_key:
            return route
    return None


def _apply_sent(plan: Plan, state: DispatchState, note: Notification) -> DispatchState:
    """What recording `note` tells about its group at `note.created_at`: what it told, when, with which incident;
    the resolved alerts it carried are gone from the group."""
    route = _route_for(plan, note)
    if route is None:  # a group of a route no longer configured
        return state
    at = note.created_at
    group = state.groups.get(note.group_key) or Group(
        route=route.id,
        receiver=route.receiver,
        key=note.group_key,
        labels=note.group_labels,
        anchor=at - route.group_wait,
        next_flush=at,
    )
    told = {_episode(a) for a in note.alerts if a.status == AlertStatus.FIRING}
    gone = {_episode(a) for a in note.alerts if a.status == AlertStatus.RESOLVED}
    if note.truncated_alerts:
        # the record names only the carried alerts; the flush told every visible one and ended every resolved one
        told |= {_episode(a) for a in group.members.values() if not _muted(plan, state, a, at)}
        gone |= {_episode(a) for a in group.ended.values()}
    ended = {fp: a for fp, a in group.ended.items() if _episode(a) not in gone}
    groups = dict(state.groups)
    if not group.members and not ended and note.status == AlertStatus.RESOLVED:
        groups.pop(note.group_key, None)
    else:
        groups[note.group_key] = group.model_copy(
            update={
                "ended": ended,
                "notified": tuple(sorted(told)),
                "last_notified_at": at,
                "incident": note.incident,
                "sent": group.sent + 1,
                "next_flush": at + route.group_interval,
            }
        )
    return state.model_copy(update={"groups": groups})


def rebuild(
    config: AlertsConfig,
    alerts: Iterable[Alert | tuple[Alert, datetime]],
    actions: Iterable[Action],
    sent: Iterable[Notification],
    now: datetime,
    incidents: Iterable[Incident | tuple[Incident, datetime]] = (),
) -> Dispatcher:
    """A dispatcher as it was before a restart, from the records; then call `tick(now)`, which sends what fell due
    while it was down.

    - `alerts`: the alert records in log order (the whole log, or the latest per fingerprint), each best paired with
      the wall-clock time the dispatcher received it (the Kafka record's timestamp). Of bare `Alert`s only the
      latest per fingerprint counts, as received now: a group it starts waits group_wait from now; a resolution
      is sent if a recorded notification told the alert firing.
    - `actions`: silences, their expiries and acks, applied at their `at`.
    - `sent`: the notifications already recorded (pending or delivered). Each one says what its group told and when;
      the group's schedule continues from it (`created_at` is a scheduled flush time), so nothing already recorded
      is sent again and a decision taken again gets the same webhook id.
    - `incidents`: incident records (bare, or paired with their receipt time), for acks of incidents and the
      notifications' `incident`.

    The records are replayed in time order (at equal times: notifications, then incidents, alerts and actions, as a
    live dispatcher flushes what is due before applying an input); the notifications are not decided again but taken
    as recorded. Every scheduled flush up to the latest record is taken as done (the old dispatcher ticked then);
    later ones are due at the first `tick`. Given the same timed inputs, the rebuilt dispatcher makes the same later
    notifications as one that never stopped (tests/unit/streams/alerts/test_dispatch.py checks it); a decision that
    was taken but not recorded before the crash is taken again at the first tick, with the same id, unless a later
    record shows its flush time passed, in which case it waits for the group's next flush. Inputs at equal times are
    assumed to have come in that order of kinds, and in log order within a kind. A truncated notification names only
    the alerts it carried: the others it told are those the replayed state shows visible at its created_at (exact
    with timed alerts).
    """
    plan = Plan.of(config)
    state = DispatchState()
    timed: list[tuple[datetime, int, int, str, object]] = []
    order = 0
    for item in incidents:
        incident, at = item if isinstance(item, tuple) else (item, None)
        if at is None:
            state = receive_incident(state, incident)
        else:
            timed.append((at, _KIND_RANK["incident"], order, "incident", incident))
        order += 1
    bare: dict[str, Alert] = {}
    for item in alerts:
        alert, at = item if isinstance(item, tuple) else (item, None)
        if at is None:
            bare.pop(alert.fingerprint, None)
            bare[alert.fingerprint] = alert
        else:
            timed.append((at, _KIND_RANK["alert"], order, "alert", alert))
        order += 1
    # bare alerts: the firing ones before everything (acks find them), the resolved ones after the notifications
    # (which say whether they were told)
    for alert in bare.values():
        if alert.status == AlertStatus.FIRING:
            state = receive_alert(plan, state, alert, now)
    for action in actions:
        timed.append((action.at, _KIND_RANK["action"], order, "action", action))
        order += 1
    for note in sent:
        timed.append((note.created_at, _KIND_RANK["sent"], order, "sent", note))
        order += 1
    timed.sort(key=lambda t: (t[0], t[1], t[2]))
    for at, _, _, kind, record in timed:
        if kind == "incident":
            state = receive_incident(state, record)
        elif kind == "alert":
            state = receive_alert(plan, state, record, at)
        elif kind == "action":
            state = receive_action(state, record, at)
        else:
            state = _apply_sent(plan, state, record)
    for alert in bare.values():
        if alert.status == AlertStatus.RESOLVED:
            state = receive_alert(plan, state, alert, now)
    last_seen = timed[-1][0] if timed else None
    groups = {}
    for key, group in state.groups.items():
        route = plan.route(group.route)
        if route is None or not (group.members or group.ended):
            continue
        nxt = group.next_flush
        if last_seen is not None and nxt <= last_seen:
            nxt += ((last_seen - nxt) // route.group_interval + 1) * route.group_interval
        groups[key] = group.model_copy(update={"next_flush": nxt})
    # ended silences stay until the first tick: its flushes may be scheduled before they ended
    return Dispatcher(config, state.model_copy(update={"groups": groups}))
