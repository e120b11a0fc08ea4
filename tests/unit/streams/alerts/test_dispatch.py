from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.alert_config import AlertsConfig
from schemas.alerts import (
    Action,
    Alert,
    AlertEvidence,
    AlertStatus,
    Incident,
    Matcher,
    Notification,
    Silence,
    fingerprint,
)
from streams.alerts import incidents as incident_lifecycle
from streams.alerts.dispatch import (
    Dispatcher,
    compile_routes,
    group_key,
    labels_text,
    match_routes,
    rebuild,
    webhook_id,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
_SHARED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_alert(
    rule: str = "volume_spike",
    brand: str = "nordair",
    severity: str | None = None,
    status: str = "firing",
    starts: float = 0,
    ends: float | None = None,
    **extra: str,
) -> Alert:
    severity = severity or ("critical" if rule == "negative_surge" else "warning")
    labels = {"alertname": rule, "brand": brand, "severity": severity, **extra}
    resolved = status == "resolved"
    return Alert(
        fingerprint=fingerprint(labels),
        status=AlertStatus(status),
        labels=labels,
        starts_at=at(starts),
        ends_at=at(ends if ends is not None else starts) if resolved else None,
        event_time=at(ends if resolved and ends is not None else starts),
        evidence=AlertEvidence(
            window_start=at(starts - 600), window_end=at(starts), value=1, baseline=1, score=6, threshold=5
        ),
    )


@pytest.fixture
def alert_factory() -> Callable[..., Alert]:
    """alert_factory("negative_surge", brand="skyline", starts=10) -> a firing Alert (times in seconds after 12:00,
    event time); status="resolved", ends=... for its resolution; extra keyword labels become labels."""
    return make_alert


def resolved(alert: Alert, ends: float) -> Alert:
    return alert.model_copy(update={"status": AlertStatus.RESOLVED, "ends_at": at(ends), "event_time": at(ends)})


def make_config(
    route: dict[str, Any] | None = None,
    receivers: tuple[str, ...] = ("oncall",),
    inhibit: list | None = None,
    max_alerts: int = 20,
    gw: float = 30,
    gi: float = 300,
    ri: float = 14400,
    no_route: bool = False,
) -> AlertsConfig:
    data: dict[str, Any] = {
        "receivers": [
            {"name": r, "type": "webhook", "url": f"http://127.0.0.1:9/{r}", "max_alerts": max_alerts}
            for r in receivers
        ],
        "inhibit": inhibit if inhibit is not None else [],
    }
    if not no_route:
        data["route"] = route or {
            "receiver": receivers[0],
            "group_by": ["brand"],
            "group_wait_s": gw,
            "group_interval_s": gi,
            "repeat_interval_s": ri,
        }
    return AlertsConfig.model_validate(data)


def fps(n: Notification) -> list[tuple[str, AlertStatus]]:
    return [(a.labels["alertname"], a.status) for a in n.alerts]


SURGE_INHIBITS_SPIKE = [
    {"source_matchers": ["alertname=negative_surge"], "target_matchers": ["alertname=volume_spike"], "equal": ["brand"]}
]

# ---- grouping and timing ---------------------------------------------------------------------------------------


def test_first_notification_after_group_wait(alert_factory):
    d = Dispatcher(make_config())
    spike = alert_factory()
    assert d.on_alert(spike, at(0)) == []
    assert d.next_due() == at(30)
    assert d.tick(at(29.9)) == []
    [n] = d.tick(at(30))
    assert n.receiver == "oncall" and n.status == AlertStatus.FIRING
    assert n.group_key == '{}:{brand="nordair"}' and n.group_labels == {"brand": "nordair"}
    assert n.alerts == (spike,) and n.truncated_alerts == 0
    assert n.created_at == at(30)
    assert re.fullmatch(r"msg_[0-9a-f]{32}", n.webhook_id)
    assert d.next_due() == at(330)


def test_a_second_alert_within_group_wait_joins_the_first_notification(alert_factory):
    d = Dispatcher(make_config())
    d.on_alert(alert_factory(), at(0))
    d.on_alert(alert_factory("negative_surge", starts=10), at(10))
    d.on_alert(alert_factory(brand="skyline", starts=10), at(10))
    notes = d.tick(at(41))  # a late tick: both groups' first flushes have passed
    assert [n.group_labels["brand"] for n in notes] == ["nordair", "skyline"]
    # the most urgent first
    assert fps(notes[0]) == [("negative_surge", AlertStatus.FIRING), ("volume_spike", AlertStatus.FIRING)]
    assert [n.created_at for n in notes] == [at(30), at(40)]  # the scheduled times, not the late tick's


def test_changes_wait_for_group_interval(alert_factory):
    d = Dispatcher(make_config())
    spike = alert_factory()
    d.on_alert(spike, at(0))
    d.tick(at(30))
    assert d.on_alert(alert_factory("viral", starts=40, post="x:1"), at(40)) == []
    assert d.tick(at(329)) == []
    [n] = d.tick(at(330))
    assert fps(n) == [("volume_spike", AlertStatus.FIRING), ("viral", AlertStatus.FIRING)]  # by start
    d.on_alert(resolved(spike, 400), at(400))
    assert d.tick(at(629)) == []
    [n] = d.tick(at(630))
    assert n.status == AlertStatus.FIRING
    assert fps(n) == [("viral", AlertStatus.FIRING), ("volume_spike", AlertStatus.RESOLVED)]
    assert n.alerts[1].ends_at == at(400)
    assert d.tick(at(930)) == []  # nothing changed since


def test_repeat_after_repeat_interval(alert_factory):
    d = Dispatcher(make_config(ri=3600))
    d.on_alert(alert_factory(), at(0))
    [first] = d.tick(at(30))
    assert d.tick(at(3629)) == []
    [repeat] = d.tick(at(3630))
    assert repeat.alerts == first.alerts and repeat.webhook_id != first.webhook_id
    assert d.tick(at(3630 + 3599)) == []
    assert len(d.tick(at(3630 + 3600))) == 1


def test_resolved_is_sent_once_and_the_group_is_removed(alert_factory):
    d = Dispatcher(make_config())
    spike = alert_factory()
    d.on_alert(spike, at(0))
    d.tick(at(30))
    d.on_alert(resolved(spike, 100), at(100))
    [n] = d.tick(at(330))
    assert n.status == AlertStatus.RESOLVED and fps(n) == [("volume_spike", AlertStatus.RESOLVED)]
    assert d.state.groups == {} and d.next_due() is None
    assert d.tick(at(100000)) == []


def test_an_alert_that_fires_and_resolves_before_anyone_is_told_is_never_notified(alert_factory):
    d = Dispatcher(make_config())
    spike = alert_factory()
    d.on_alert(spike, at(0))
    d.on_alert(resolved(spike, 10), at(10))
    assert d.tick(at(30)) == [] and d.state.groups == {}


def test_group_wait_zero_notifies_in_the_same_call(alert_factory):
    d = Dispatcher(make_config(gw=0))
    [n] = d.on_alert(alert_factory(), at(5))
    assert n.created_at == at(5)
    assert d.on_alert(alert_factory("viral", starts=6, post="x:1"), at(6)) == []  # an existing group waits


def test_a_late_tick_flushes_once_at_the_latest_scheduled_time(alert_factory):
    d = Dispatcher(make_config(ri=600))
    d.on_alert(alert_factory(), at(0))
    d.tick(at(30))
    [n] = d.tick(at(30 + 3 * 300 + 10))  # three flush times passed: one flush, at the last of them
    assert n.created_at == at(930)
    assert d.next_due() == at(1230)


# ---- inhibition, silences, acknowledgements --------------------------------------------------------------------


def test_inhibition_by_a_surge_of_the_same_brand_only(alert_factory):
    d = Dispatcher(make_config(inhibit=SURGE_INHIBITS_SPIKE))
    surge = alert_factory("negative_surge", starts=5)
    d.on_alert(alert_factory(), at(0))
    d.on_alert(surge, at(5))
    d.on_alert(alert_factory(brand="skyline", starts=5), at(5))
    nordair, skyline = d.tick(at(35))
    assert fps(nordair) == [("negative_surge", AlertStatus.FIRING)]  # the spike exists but is not notified
    assert fps(skyline) == [("volume_spike", AlertStatus.FIRING)]
    assert len(d.state.groups['{}:{brand="nordair"}'].members) == 2
    # the surge ends: the spike is revealed at the next flush, beside the surge's resolution
    d.on_alert(resolved(surge, 100), at(100))
    [n] = d.tick(at(330))
    assert fps(n) == [("volume_spike", AlertStatus.FIRING), ("negative_surge", AlertStatus.RESOLVED)]


def test_an_alert_matching_both_sides_does_not_inhibit_itself(alert_factory):
    rule = [{"source_matchers": ["brand=nordair"], "target_matchers": ["brand=nordair"], "equal": ["brand"]}]
    d = Dispatcher(make_config(inhibit=rule))
    d.on_alert(alert_factory(), at(0))
    d.on_alert(alert_factory("viral", post="x:1"), at(0))
    [n] = d.tick(at(30))
    assert len(n.alerts) == 2  # both match both sides: neither inhibits the other


def silence_action(sid: str, start: float, end: float, *matchers: str, when: float | None = None) -> Action:
    silence = Silence(
        id=sid,
        matchers=tuple(Matcher.parse(m) for m in matchers),
        starts_at=at(start),
        ends_at=at(end),
        created_by="ana",
        comment="maintenance",
    )
    return Action(id=f"a-{sid}", kind="silence", at=at(start if when is None else when), by="ana", silence=silence)


def test_a_silence_hides_and_its_end_reveals_at_the_next_group_interval(alert_factory):
    d = Dispatcher(make_config())
    d.on_action(silence_action("s1", 0, 400, "brand=nordair"), at(0))
    d.on_alert(alert_factory(starts=10), at(10))
    d.on_alert(alert_factory(brand="skyline", starts=10), at(10))
    [n] = d.tick(at(40))
    assert n.group_labels == {"brand": "skyline"}
    assert d.tick(at(340)) == []  # still silenced at 340
    [n] = d.tick(at(640))
    assert n.group_labels == {"brand": "nordair"} and fps(n) == [("volume_spike", AlertStatus.FIRING)]
    assert d.state.silences == {}  # ended silences are dropped


def test_muting_is_judged_at_the_scheduled_flush_time_not_at_the_late_tick(alert_factory):
    d = Dispatcher(make_config())
    d.on_action(silence_action("s1", 0, 335, "brand=nordair"), at(0))
    d.on_alert(alert_factory(starts=0), at(0))
    assert d.tick(at(30)) == []
    assert d.tick(at(336)) == []  # the flush of 330 runs late, at 336: the silence still held at 330
    [n] = d.tick(at(630))
    assert n.created_at == at(630)


def test_expiring_a_silence_reveals_at_the_next_group_interval(alert_factory):
    d = Dispatcher(make_config())
    d.on_action(silence_action("s1", 0, 86400, "alertname=~volume.*"), at(0))
    d.on_alert(alert_factory(starts=10), at(10))
    assert d.tick(at(40)) == []
    d.on_action(Action(id="x", kind="expire_silence", at=at(200), by="ana", silence_id="s1"), at(200))
    assert d.tick(at(339)) == []
    assert len(d.tick(at(340))) == 1


def test_the_resolution_of_a_told_alert_is_sent_even_when_silenced(alert_factory):
    d = Dispatcher(make_config())
    spike = alert_factory()
    d.on_alert(spike, at(0))
    d.tick(at(30))
    d.on_action(silence_action("s1", 50, 86400, "brand=nordair"), at(50))
    d.on_alert(resolved(spike, 60), at(60))
    [n] = d.tick(at(330))
    assert fps(n) == [("volume_spike", AlertStatus.RESOLVED)]


def ack(fp: str | None = None, incident: str | None = None, when: float = 0) -> Action:
    return Action(id=f"ack-{when}", kind="ack", at=at(when), by="ana", fingerprint=fp, incident=incident)


def test_an_ack_stops_repeats_but_not_the_resolution(alert_factory):
    d = Dispatcher(make_config(ri=3600))
    spike = alert_factory()
    d.on_alert(spike, at(0))
    d.tick(at(30))
    d.on_action(ack(spike.fingerprint, when=100), at(100))
    assert d.tick(at(3630)) == [] and d.tick(at(7230)) == []
    d.on_alert(resolved(spike, 8000), at(8000))
    [n] = d.tick(at(8130))
    assert fps(n) == [("volume_spike", AlertStatus.RESOLVED)]


def test_an_ack_holds_for_one_episode_and_a_new_alert_still_notifies(alert_factory):
    d = Dispatcher(make_config(ri=3600))
    spike = alert_factory()
    d.on_alert(spike, at(0))
    d.tick(at(30))
    d.on_action(ack(spike.fingerprint, when=100), at(100))
    d.on_alert(alert_factory("viral", starts=200, post="x:1"), at(200))
    assert len(d.tick(at(330))) == 1  # a change is always told
    assert len(d.tick(at(3930))) == 1  # the viral alert is not acknowledged: the group repeats
    # an ack of an alert that does not fire is ignored
    d.on_action(ack("0123456789abcdef", when=4000), at(4000))
    assert "0123456789abcdef" not in d.state.acked


def incident_record(iid: str, *alerts: Alert, status: str = "opened", when: float = 0) -> Incident:
    return Incident(
        id=iid,
        brand="nordair",
        status=status,
        opened_at=at(0),
        updated_at=at(when),
        resolved_at=at(when) if status == "resolved" else None,
        severity="warning",
        alerts=tuple(a.fingerprint for a in alerts),
        firing=tuple(a.fingerprint for a in alerts) if status != "resolved" else (),
    )


def test_an_ack_of_an_incident_acks_its_alerts_and_the_incident_travels_with_notifications(alert_factory):
    d = Dispatcher(make_config(ri=3600))
    spike, viral = alert_factory(), alert_factory("viral", post="x:1")
    iid = f"nordair:{int(T0.timestamp())}"
    d.on_alert(spike, at(0))
    d.on_incident(incident_record(iid, spike), at(0))
    [first] = d.tick(at(30))
    assert first.incident == iid
    d.on_action(ack(incident=iid, when=60), at(60))
    d.on_alert(viral, at(100))
    d.on_incident(incident_record(iid, spike, viral, status="updated", when=100), at(100))
    [change] = d.tick(at(330))
    assert change.incident == iid and len(change.alerts) == 2
    assert d.tick(at(3930)) == []  # both alerts belong to the acknowledged incident
    # the incident resolves: its ack goes with it, but the group keeps telling the same incident id
    d.on_alert(resolved(spike, 4000), at(4000))
    d.on_alert(resolved(viral, 4000), at(4000))
    d.on_incident(incident_record(iid, spike, viral, status="resolved", when=4000), at(4000))
    [last] = d.tick(at(4230))
    assert last.status == AlertStatus.RESOLVED and last.incident == iid
    assert d.state.incidents == {} and d.state.acked_incidents == ()


# ---- routing ---------------------------------------------------------------------------------------------------

ROUTES = {
    "receiver": "oncall",
    "group_by": ["brand"],
    "routes": [
        {"matchers": ["severity=critical"], "receiver": "pager", "continue": True, "group_wait_s": 0},
        {"matchers": ["brand=~nord.*", "alertname!=viral"], "receiver": "social"},
        {"matchers": ["alertname!~volume.*"], "receiver": "desk", "group_by": []},
    ],
}


@pytest.mark.parametrize(
    ("rule", "brand", "severity", "receivers"),
    [
        ("negative_surge", "nordair", "critical", ["pager", "social"]),  # continue, then the first match
        ("negative_surge", "skyline", "critical", ["pager", "desk"]),  # != ... and !~
        ("volume_spike", "nordair", "warning", ["social"]),  # =~
        ("viral", "nordair", "warning", ["desk"]),  # != refuses, !~ takes it
        ("volume_spike", "skyline", "warning", ["oncall"]),  # no child matches: the root keeps it
    ],
)
def test_routing_with_continue_and_every_matcher(rule, brand, severity, receivers):
    root = compile_routes(make_config(ROUTES, receivers=("oncall", "pager", "social", "desk")))
    labels = {"alertname": rule, "brand": brand, "severity": severity}
    assert [r.receiver for r in match_routes(root, labels)] == receivers


def test_routes_inherit_settings_and_key_their_groups_like_alertmanager():
    root = compile_routes(make_config(ROUTES, receivers=("oncall", "pager", "social", "desk")))
    pager, social, desk = root.children
    assert pager.group_wait == timedelta(0) and pager.group_by == ("brand",)
    assert social.group_wait == timedelta(seconds=30) and social.repeat_interval == timedelta(hours=4)
    assert desk.group_by == ()
    assert group_key(pager, {"brand": "nordair"}) == '{}/{severity="critical"}:{brand="nordair"}'
    assert group_key(social, {}) == '{}/{brand=~"nord.*",alertname!="viral"}:{}'
    assert labels_text({"b": "2", "a": 'q"uote'}) == '{a="q\\"uote", b="2"}'


def test_a_critical_alert_reaches_every_route_it_continues_to(alert_factory):
    d = Dispatcher(make_config(ROUTES, receivers=("oncall", "pager", "social", "desk")))
    [page] = d.on_alert(alert_factory("negative_surge"), at(0))  # the pager route waits 0 s
    assert page.receiver == "pager"
    [social] = d.tick(at(30))
    assert social.receiver == "social" and social.group_key.startswith('{}/{brand=~"nord.*"')


def test_without_a_route_the_first_receiver_takes_everything(alert_factory):
    d = Dispatcher(make_config(receivers=("first", "second"), no_route=True))
    d.on_alert(alert_factory(), at(0))
    [n] = d.tick(at(30))  # ROOT_DEFAULTS: group_wait 30 s, by brand
    assert n.receiver == "first" and n.group_labels == {"brand": "nordair"}


def test_without_receivers_nothing_is_dispatched(alert_factory):
    d = Dispatcher(AlertsConfig())
    assert d.on_alert(alert_factory(), at(0)) == [] and d.tick(at(10**6)) == []
    assert d.state.groups == {} and d.next_due() is None


def test_sibling_routes_with_equal_matchers_get_distinct_keys():
    route = {
        "receiver": "a",
        "routes": [
            {"matchers": ["brand=x"], "receiver": "a", "continue": True},
            {"matchers": ["brand=x"], "receiver": "a"},
        ],
    }
    first, second = compile_routes(make_config(route, receivers=("a",))).children
    assert first.key != second.key


# ---- notification content --------------------------------------------------------------------------------------


def test_truncation_counts_the_rest_and_does_not_tell_them_again(alert_factory):
    d = Dispatcher(make_config(max_alerts=2))
    alerts = [alert_factory("viral", starts=i, post=f"x:{i}") for i in range(3)]
    alerts.append(alert_factory("negative_surge", starts=5))
    for a in alerts:
        d.on_alert(a, at(a.starts_at.second))
    [n] = d.tick(at(30))
    assert len(n.alerts) == 2 and n.truncated_alerts == 2
    assert n.alerts[0].rule == "negative_surge"  # the most urgent survives truncation
    assert d.tick(at(330)) == []  # the truncated ones were told too


def test_webhook_ids_are_unique_and_the_same_for_the_same_inputs(alert_factory):
    def run() -> list[str]:
        d = Dispatcher(make_config(ri=600))
        ids = []
        spike = alert_factory()
        ids += [n.webhook_id for n in d.on_alert(spike, at(0))]
        for t in range(30, 3000, 30):
            if t == 900:
                ids += [n.webhook_id for n in d.on_alert(resolved(spike, t), at(t))]
            if t == 1500:
                ids += [n.webhook_id for n in d.on_alert(alert_factory(starts=t), at(t))]
            ids += [n.webhook_id for n in d.tick(at(t))]
        return ids

    first = run()
    assert len(first) >= 5 and len(set(first)) == len(first)
    assert run() == first
    assert webhook_id("a", "k", at(0), AlertStatus.FIRING, []) != webhook_id("b", "k", at(0), AlertStatus.FIRING, [])


def test_snapshot_and_restore_continue_exactly(alert_factory):
    config = make_config(ri=600, inhibit=SURGE_INHIBITS_SPIKE)
    d = Dispatcher(config)
    d.on_alert(alert_factory(), at(0))
    d.on_alert(alert_factory("negative_surge", starts=40), at(40))
    d.on_action(silence_action("s1", 0, 700, "brand=skyline"), at(50))
    d.tick(at(60))
    copy = Dispatcher.restore(config, d.snapshot())
    assert copy.state == d.state
    for t in range(60, 2000, 45):
        assert copy.tick(at(t)) == d.tick(at(t))


# ---- properties ------------------------------------------------------------------------------------------------

IDENTITIES = [
    ("volume_spike", "nordair", "warning", {}),
    ("negative_surge", "nordair", "critical", {}),
    ("viral", "nordair", "warning", {"post": "x:1"}),
    ("volume_spike", "skyline", "warning", {}),
    ("negative_surge", "skyline", "critical", {}),
    ("volume_spike", "nordair", "critical", {}),
]
GW, GI, RI = 10, 30, 120
PROPERTY_ROUTE = {
    "receiver": "oncall",
    "group_by": ["brand"],
    "group_wait_s": GW,
    "group_interval_s": GI,
    "repeat_interval_s": RI,
    "routes": [
        {"matchers": ["severity=critical"], "receiver": "pager", "continue": True},
        {"matchers": ["brand=~sky.*"], "receiver": "social"},
    ],
}


#: one group per route: crowded groups, so that notifications are often truncated
CROWDED_ROUTE = {**PROPERTY_ROUTE, "group_by": []}


def receivers_of(brand: str, severity: str) -> set[str]:
    """The property route, written out by hand (an oracle independent of `match_routes`)."""
    out = {"pager"} if severity == "critical" else set()
    if brand == "skyline":
        return out | {"social"}
    return out or {"oncall"}  # a matching child (even with continue) takes the alert from the root


class Harness:
    """Drives a dispatcher through steps at increasing wall times, with the incident lifecycle in front of it, and
    keeps every record (with the time the dispatcher got it) for `rebuild`."""

    def __init__(self, config: AlertsConfig, tick_every: float | None = None) -> None:
        self.config = config
        self.d = Dispatcher(config)
        self.t = 0.0
        self.tick_every = tick_every
        self.seq = 0
        self.notes: list[tuple[int, Notification]] = []
        self.arrivals: list[tuple[int, float, Alert]] = []
        self.alert_log: list[tuple[Alert, datetime]] = []
        self.actions: list[Action] = []
        self.incident_log: list[tuple[Incident, datetime]] = []
        self.brand_incidents: dict[str, incident_lifecycle.BrandIncident] = {}
        self.firing: dict[int, Alert] = {}

    def _take(self, notes: list[Notification]) -> None:
        for n in notes:
            self.seq += 1
            self.notes.append((self.seq, n))

    def advance(self, to: float) -> None:
        """Time passes: ticks every `tick_every` seconds, or exactly when something is due."""
        if self.tick_every is not None:
            t = (self.t // self.tick_every + 1) * self.tick_every  # on a fixed grid: k * tick_every
            while t <= to:
                self._take(self.d.tick(at(t)))
                t += self.tick_every
        else:
            while (due := self.d.next_due()) is not None and due <= at(to):
                self._take(self.d.tick(due))
        self.t = to

    def _incidents(self, brand: str, records: list[Incident]) -> None:
        for record in records:
            self.incident_log.append((record, at(self.t)))
            self._take(self.d.on_incident(record, at(self.t)))

    def alert(self, alert: Alert) -> None:
        self.seq += 1
        self.arrivals.append((self.seq, self.t, alert))
        self.alert_log.append((alert, at(self.t)))
        self._take(self.d.on_alert(alert, at(self.t)))
        state = self.brand_incidents.get(alert.brand, incident_lifecycle.BrandIncident())
        state, records = incident_lifecycle.on_alert(state, alert)
        self.brand_incidents[alert.brand] = state
        self._incidents(alert.brand, records)

    def action(self, action: Action) -> None:
        self.actions.append(action)
        self._take(self.d.on_action(action, at(self.t)))

    def watermark(self) -> None:
        for brand, state in sorted(self.brand_incidents.items()):
            state, records = incident_lifecycle.on_time(state, at(self.t), close_minutes=2)
            self.brand_incidents[brand] = state
            self._incidents(brand, records)

    def step(self, dt: float, op: str, arg: int, min_firing: float = 0) -> None:
        self.advance(self.t + dt)
        rule, brand, severity, extra = IDENTITIES[arg % len(IDENTITIES)]
        idx = arg % len(IDENTITIES)
        if op == "fire" and idx not in self.firing:
            self.firing[idx] = make_alert(rule, brand, severity, starts=self.t, **extra)
            self.alert(self.firing[idx])
        elif (
            op == "resolve"
            and idx in self.firing
            and self.t - self.firing[idx].starts_at.timestamp() + T0.timestamp() >= min_firing
        ):
            self.alert(resolved(self.firing.pop(idx), self.t))
        elif op == "silence":
            matcher = ["brand=nordair", "brand=skyline", "severity=critical"][arg % 3]
            self.action(silence_action(f"s{arg % 3}", self.t, self.t + 20 + 7 * arg, matcher))
        elif op == "expire":
            self.action(
                Action(id=f"e{self.t}", kind="expire_silence", at=at(self.t), by="ana", silence_id=f"s{arg % 3}")
            )
        elif op == "ack" and idx in self.firing:
            self.action(ack(self.firing[idx].fingerprint, when=self.t))
        elif op == "ack_incident":
            state = self.brand_incidents.get(["nordair", "skyline"][arg % 2])
            if state is not None and state.open is not None:
                self.action(ack(incident=state.open.id, when=self.t))
        self.watermark()

    def finish(self, min_firing: float = 0) -> None:
        """Resolve what still fires (after `min_firing`) and let every group tell it."""
        self.advance(self.t + min_firing)
        for idx in sorted(self.firing):
            self.alert(resolved(self.firing.pop(idx), self.t))
        self.advance(self.t + GW + 2 * GI + 1)


OPS = ["fire", "fire", "resolve", "resolve", "ack", "ack_incident", "silence", "expire", "tick"]
UNMUTED_OPS = ["fire", "fire", "resolve", "ack", "ack_incident", "tick"]


def steps(ops: list[str]) -> st.SearchStrategy:
    return st.lists(st.tuples(st.integers(0, 45), st.sampled_from(ops), st.integers(0, 11)), min_size=1, max_size=30)


@settings(max_examples=120, deadline=None, suppress_health_check=_SHARED)
@given(script=steps(UNMUTED_OPS))
def test_property_every_unmuted_alert_is_told_and_its_end_told_once(script):
    """(1) Every alert that fires long enough to meet a flush of its groups (group_wait, then group_interval) and
    is never muted appears firing in at least one notification to each receiver its routes select, and no other,
    and its resolution in exactly one notification to each of them."""
    h = Harness(make_config(PROPERTY_ROUTE, receivers=("oncall", "pager", "social")))
    long_enough = max(GW, GI)
    for dt, op, arg in script:
        h.step(dt, op, arg, min_firing=long_enough)
    h.finish(min_firing=long_enough)
    episodes = {(a.fingerprint, a.starts_at): a for _, _, a in h.arrivals}
    for (fp, starts), alert in episodes.items():
        expected = receivers_of(alert.brand, alert.labels["severity"])
        for receiver in ("oncall", "pager", "social"):
            told = [
                a.status
                for _, n in h.notes
                if n.receiver == receiver
                for a in n.alerts
                if (a.fingerprint, a.starts_at) == (fp, starts)
            ]
            if receiver in expected:
                assert AlertStatus.FIRING in told, (receiver, alert.labels)
                assert told.count(AlertStatus.RESOLVED) == 1, (receiver, alert.labels)
            else:
                assert told == []


@settings(max_examples=120, deadline=None, suppress_health_check=_SHARED)
@given(script=steps(UNMUTED_OPS))
def test_property_nothing_is_sent_before_group_wait(script):
    """(2) A group's first notification (the first to a receiver for a brand, or the first after its resolved
    notification) comes at least group_wait after the first alert that reached that group since."""
    h = Harness(make_config(PROPERTY_ROUTE, receivers=("oncall", "pager", "social")))
    for dt, op, arg in script:
        h.step(dt, op, arg)
    h.finish()
    opened: dict[tuple[str, str], int] = {}  # (receiver, brand) -> seq of the resolved notification that closed it
    for seq, n in h.notes:
        group = (n.receiver, n.group_labels["brand"])
        if group not in opened or opened[group] != -1:
            since = opened.get(group, 0)
            first = min(
                t
                for s, t, a in h.arrivals
                if s > since
                and a.status == AlertStatus.FIRING
                and a.brand == group[1]
                and n.receiver in receivers_of(a.brand, a.labels["severity"])
            )
            assert n.created_at >= at(first + GW)
            opened[group] = -1
        if n.status == AlertStatus.RESOLVED:
            opened[group] = seq


@settings(max_examples=60, deadline=None, suppress_health_check=_SHARED)
@given(script=steps(OPS), every=st.sampled_from([1.0, 3.0, 7.5, 29.0]))
def test_property_the_tick_cadence_does_not_change_the_notifications(script, every):
    """Ticks at any cadence closer than group_interval give the notifications that ticks exactly when due give."""
    config = make_config(
        CROWDED_ROUTE, receivers=("oncall", "pager", "social"), max_alerts=1, inhibit=SURGE_INHIBITS_SPIKE
    )
    exact, ticking = Harness(config), Harness(config, tick_every=every)
    for h in (exact, ticking):
        for dt, op, arg in script:
            h.step(dt, op, arg)
        h.finish()
    assert [n for _, n in exact.notes] == [n for _, n in ticking.notes]


@settings(max_examples=400, deadline=None, suppress_health_check=_SHARED)
@given(script=steps(OPS), restarts=st.sets(st.integers(0, 29), min_size=1))
def test_property_a_rebuilt_dispatcher_continues_as_if_it_never_stopped(script, restarts):
    """(3) Stop after some steps, each time rebuilding from the records (alerts with their receipt times, actions,
    incidents and the notifications so far) and ticking at the restart time, and carry on: the notifications are
    those of a dispatcher that never stopped, and the first tick after a restart sends nothing."""
    config = make_config(
        CROWDED_ROUTE, receivers=("oncall", "pager", "social"), max_alerts=1, inhibit=SURGE_INHIBITS_SPIKE
    )
    never = Harness(config)
    for dt, op, arg in script:
        never.step(dt, op, arg)
    never.finish()

    restarted = Harness(config)
    for i, (dt, op, arg) in enumerate(script):
        restarted.step(dt, op, arg)
        if i in restarts or i == max(restarts) % len(script):
            restarted.d = rebuild(
                config,
                restarted.alert_log,
                restarted.actions,
                [n for _, n in restarted.notes],
                at(restarted.t),
                restarted.incident_log,
            )
            assert restarted.d.tick(at(restarted.t)) == []
    restarted.finish()
    assert [n for _, n in restarted.notes] == [n for _, n in never.notes]


def test_rebuild_after_a_truncated_notification_knows_what_it_told(alert_factory):
    config = make_config(max_alerts=1)
    spike, viral = alert_factory(), alert_factory("viral", post="x:1")

    def run(restart: bool) -> list[Notification]:
        d = Dispatcher(config)
        d.on_alert(spike, at(0))
        d.on_alert(viral, at(0))
        sent = d.tick(at(30))
        assert sent[0].truncated_alerts == 1
        if restart:
            d = rebuild(config, [(spike, at(0)), (viral, at(0))], [], sent, at(100))
        out = d.tick(at(100)) + d.tick(at(330))  # nothing new: the truncated alert was told too
        d.on_alert(resolved(spike, 400), at(400))
        d.on_alert(resolved(viral, 400), at(400))
        return out + d.tick(at(630))

    never, restarted = run(False), run(True)
    assert restarted == never
    [n] = never
    assert n.status == AlertStatus.RESOLVED and n.truncated_alerts == 1


def test_rebuild_from_bare_alerts_sends_nothing_twice(alert_factory):
    """Without receipt times a restarted dispatcher still knows what it told: a firing group it already notified
    is not notified again, and a resolution it has not sent yet is sent once."""
    config = make_config()
    d = Dispatcher(config)
    spike, viral = alert_factory(), alert_factory("viral", post="x:1")
    d.on_alert(spike, at(0))
    d.on_alert(viral, at(0))
    sent = d.tick(at(30))
    gone = resolved(spike, 100)
    d.on_alert(gone, at(100))
    again = rebuild(config, [spike, viral, gone], [], sent, at(120))
    assert again.tick(at(120)) == []
    [n] = again.tick(at(330))
    assert fps(n) == [("viral", AlertStatus.FIRING), ("volume_spike", AlertStatus.RESOLVED)]
    assert n == d.tick(at(330))[0]
