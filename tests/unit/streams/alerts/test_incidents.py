from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.alerts import Alert, AlertEvidence, AlertStatus, EvidenceBucket, Incident, Severity, fingerprint
from streams.alerts.incidents import BrandIncident, on_alert, on_resolve_action, on_time, summary_of

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
OPENED_ID = f"nordair:{int(T0.timestamp())}"


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


@pytest.fixture
def alert_factory() -> Callable[..., Alert]:
    """alert_factory("volume_spike", status="resolved", starts=0, at=20, posts=300, negative=60) -> an Alert of
    nordair (times in minutes after 12:00), with one evidence bucket holding the posts."""

    def make(
        rule: str = "volume_spike",
        status: str = "firing",
        starts: float = 0,
        at: float | None = None,
        brand: str = "nordair",
        severity: str | None = None,
        posts: int = 0,
        negative: int = 0,
    ) -> Alert:
        severity = severity or ("critical" if rule == "negative_surge" else "warning")
        labels = {"alertname": rule, "brand": brand, "severity": severity}
        at = starts if at is None else at
        buckets = (EvidenceBucket(start=minutes(starts), posts=posts, negative=negative),) if posts else ()
        return Alert(
            fingerprint=fingerprint(labels),
            status=AlertStatus(status),
            labels=labels,
            starts_at=minutes(starts),
            ends_at=minutes(at) if status == "resolved" else None,
            event_time=minutes(at),
            evidence=AlertEvidence(
                window_start=minutes(starts - 10),
                window_end=minutes(starts),
                value=posts,
                baseline=1,
                score=6,
                threshold=5,
                buckets=buckets,
            ),
        )

    return make


def test_the_lifecycle_of_one_incident(alert_factory):
    vs, ns = alert_factory("volume_spike"), alert_factory("negative_surge", starts=5)
    state, [opened] = on_alert(BrandIncident(), vs)
    assert opened.status == "opened" and opened.id == OPENED_ID
    assert (opened.opened_at, opened.updated_at, opened.resolved_at) == (minutes(0), minutes(0), None)
    assert opened.severity == Severity.WARNING
    assert opened.alerts == opened.firing == (vs.fingerprint,)

    state, [joined] = on_alert(state, ns)
    assert (joined.status, joined.id, joined.updated_at) == ("updated", OPENED_ID, minutes(5))
    assert joined.severity == Severity.CRITICAL
    assert joined.alerts == joined.firing == (vs.fingerprint, ns.fingerprint)

    state, [one_left] = on_alert(state, alert_factory("volume_spike", "resolved", starts=0, at=20))
    assert one_left.firing == (ns.fingerprint,) and one_left.alerts == (vs.fingerprint, ns.fingerprint)
    state, [quiet] = on_alert(state, alert_factory("negative_surge", "resolved", starts=5, at=30))
    assert quiet.status == "updated" and quiet.firing == ()
    assert quiet.severity == Severity.CRITICAL  # the most urgent that has fired in it

    assert on_time(state, minutes(44), close_minutes=15) == (state, [])
    closed_state, [resolved] = on_time(state, minutes(47), close_minutes=15)
    assert resolved.status == "resolved" and resolved.id == OPENED_ID
    assert (resolved.resolved_at, resolved.updated_at) == (minutes(30), minutes(45))
    assert closed_state == BrandIncident()


def test_an_alert_in_the_quiet_period_joins_the_same_incident(alert_factory):
    state, _ = on_alert(BrandIncident(), alert_factory())
    state, _ = on_alert(state, alert_factory(status="resolved", at=10))
    state, [rejoined] = on_alert(state, alert_factory("viral", starts=20))
    assert rejoined.status == "updated" and rejoined.id == OPENED_ID
    assert on_time(state, minutes(60), close_minutes=15) == (state, [])  # something fires: never closes
    # once closed, the next alert opens a new incident
    state, _ = on_alert(state, alert_factory("viral", "resolved", starts=20, at=25))
    state, [closed] = on_time(state, minutes(40), close_minutes=15)
    state, [reopened] = on_alert(state, alert_factory("viral", starts=50))
    assert closed.status == "resolved" and reopened.status == "opened"
    assert reopened.id == f"nordair:{int(minutes(50).timestamp())}"


def test_duplicates_and_stray_resolutions_make_no_record(alert_factory):
    vs = alert_factory()
    state, _ = on_alert(BrandIncident(), vs)
    assert on_alert(state, vs) == (state, [])
    assert on_alert(state, alert_factory("viral", "resolved", at=3)) == (state, [])
    assert on_alert(BrandIncident(), alert_factory(status="resolved", at=3)) == (BrandIncident(), [])
    state, _ = on_alert(state, alert_factory(status="resolved", at=5))
    assert on_alert(state, alert_factory(status="resolved", at=5)) == (state, [])


def test_close_minutes_zero_closes_at_the_next_watermark(alert_factory):
    state, _ = on_alert(BrandIncident(), alert_factory())
    state, _ = on_alert(state, alert_factory(status="resolved", at=3))
    assert on_time(state, minutes(2), close_minutes=0) == (state, [])
    _, [closed] = on_time(state, minutes(3), close_minutes=0)
    assert closed.updated_at == closed.resolved_at == minutes(3)


def test_resolve_by_hand(alert_factory):
    state, _ = on_alert(BrandIncident(), alert_factory("negative_surge"))
    assert on_resolve_action(state, "nordair:1", minutes(10), "ana") == (state, [])
    state, [record] = on_resolve_action(state, OPENED_ID, minutes(10), "ana")
    assert record.status == "resolved" and record.resolved_at == record.updated_at == minutes(10)
    assert record.summary.endswith("(resolved by ana)")
    assert record.firing == (alert_factory("negative_surge").fingerprint,)
    assert state == BrandIncident()
    # the alert's own resolution afterwards finds no open incident
    assert on_alert(state, alert_factory("negative_surge", "resolved", at=10)) == (state, [])


def test_summary_names_the_rules_and_the_most_urgent_evidence(alert_factory):
    state, _ = on_alert(BrandIncident(), alert_factory("volume_spike", posts=300, negative=60))
    state, [record] = on_alert(state, alert_factory("negative_surge", starts=5, posts=412, negative=321))
    assert record.summary == "nordair: negative_surge, volume_spike; 412 posts, 78% negative"
    _, [lone] = on_alert(BrandIncident(), alert_factory("key_person"))
    assert lone.summary == "nordair: key_person"
    assert summary_of("nordair", {}) == "nordair"


def test_one_state_per_brand(alert_factory):
    state, _ = on_alert(BrandIncident(), alert_factory())
    with pytest.raises(ValueError, match="skyline"):
        on_alert(state, alert_factory(brand="skyline"))


def test_state_round_trips_through_json(alert_factory):
    state, _ = on_alert(BrandIncident(), alert_factory(posts=10, negative=2))
    state, _ = on_alert(state, alert_factory(status="resolved", at=4))
    assert BrandIncident.model_validate_json(state.model_dump_json()) == state


_RULES = ["volume_spike", "negative_surge", "viral"]
_events = st.lists(st.tuples(st.sampled_from(_RULES), st.integers(1, 12)), min_size=1, max_size=30)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=_events, step_a=st.integers(1, 7), step_b=st.integers(1, 7))
def test_records_do_not_depend_on_the_watermark_step(events, step_a, step_b, alert_factory):
    """The same alert records with watermarks every `step_a` or every `step_b` minutes give the same incident
    records (closing is decided on event time, not on when on_time happens to be called), and the records are
    well formed: one open incident at a time, firing within alerts, resolved only when nothing fires."""

    def run(step: int) -> list[Incident]:
        state, out, t, firing = BrandIncident(), [], 0, {}
        for rule, dt in events:
            t_next = t + dt
            # watermarks between the alerts, at the cadence under test
            w = (t // step + 1) * step
            while w < t_next:
                state, records = on_time(state, minutes(w), close_minutes=15)
                out.extend(records)
                w += step
            t = t_next
            if rule in firing:
                state, records = on_alert(state, alert_factory(rule, "resolved", starts=firing.pop(rule), at=t))
            else:
                firing[rule] = t
                state, records = on_alert(state, alert_factory(rule, starts=t))
            out.extend(records)
        for rule, started in sorted(firing.items()):
            state, records = on_alert(state, alert_factory(rule, "resolved", starts=started, at=t))
            out.extend(records)
        state, records = on_time(state, minutes(t + 1000), close_minutes=15)
        out.extend(records)
        assert state == BrandIncident()
        return out

    a, b = run(step_a), run(step_b)
    assert [r.model_dump_json() for r in a] == [r.model_dump_json() for r in b]
    open_id = None
    for r in a:
        assert set(r.firing) <= set(r.alerts)
        if r.status == "opened":
            assert open_id is None
            open_id = r.id
        else:
            assert r.id == open_id
        if r.status == "resolved":
            assert r.firing == () and r.resolved_at <= r.updated_at
            open_id = None
    assert open_id is None
