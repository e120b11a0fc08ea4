from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.alerts import Alert, AlertEvidence, AlertStatus, Severity, fingerprint
from streams.alerts.lifecycle import (
    BrandAlerts,
    Condition,
    evaluate,
    fire,
    labels_of,
    resolve,
    resolve_by_hand,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


@pytest.fixture
def evidence_factory() -> Callable[..., AlertEvidence]:
    def make(value: float = 120.0, **overrides) -> AlertEvidence:
        fields = dict(
            window_start=T0 - timedelta(minutes=10),
            window_end=T0,
            value=value,
            baseline=20.0,
            score=6.25,
            threshold=5.0,
        )
        fields.update(overrides)
        return AlertEvidence(**fields)

    return make


@pytest.fixture
def condition_factory(evidence_factory) -> Callable[..., Condition]:
    def make(
        rule: str = "volume_spike",
        brand: str = "nordair",
        severity: Severity = Severity.WARNING,
        extra: tuple[tuple[str, str], ...] = (),
        value: float = 120.0,
        summary: str = "nordair: 120 posts in 10 min",
    ) -> Condition:
        return Condition(rule, brand, severity, extra, evidence_factory(value=value), summary)

    return make


def test_labels_hold_rule_brand_severity_and_the_extra_labels(condition_factory):
    c = condition_factory(rule="key_person", extra=(("person", "ingrid_news"),))
    assert labels_of(c) == {
        "alertname": "key_person",
        "brand": "nordair",
        "severity": "warning",
        "person": "ingrid_news",
    }
    with pytest.raises(ValueError, match="reserved"):
        labels_of(condition_factory(extra=(("severity", "info"),)))


def test_fire_emits_one_record_the_first_time_only(condition_factory):
    c = condition_factory()
    state, records = fire(BrandAlerts(), c, minutes(0))
    assert len(records) == 1
    a = records[0]
    assert a.status == AlertStatus.FIRING
    assert a.fingerprint == fingerprint(labels_of(c))
    assert (a.starts_at, a.event_time, a.ends_at) == (minutes(0), minutes(0), None)
    assert a.annotations == {"summary": "nordair: 120 posts in 10 min"}
    assert a.evidence.value == 120.0
    assert state.active == {a.fingerprint: a}

    again, records = fire(state, condition_factory(value=500.0), minutes(1))
    assert records == [] and again == state  # the first evidence is kept, nothing re-announced


def test_severity_is_part_of_the_identity(condition_factory):
    state, [warning] = fire(BrandAlerts(), condition_factory(), minutes(0))
    state, [critical] = fire(state, condition_factory(severity=Severity.CRITICAL), minutes(1))
    assert warning.fingerprint != critical.fingerprint
    assert len(state.active) == 2


def test_resolve_emits_a_resolved_record_once(condition_factory, evidence_factory):
    state, [firing] = fire(BrandAlerts(), condition_factory(), minutes(0))
    later = evidence_factory(value=30.0)
    state, [resolved] = resolve(state, firing.fingerprint, minutes(25), later)
    assert resolved.status == AlertStatus.RESOLVED
    assert (resolved.starts_at, resolved.ends_at, resolved.event_time) == (minutes(0), minutes(25), minutes(25))
    assert resolved.evidence.value == 30.0
    assert resolved.labels == firing.labels and resolved.annotations == firing.annotations
    assert state.active == {}
    assert resolve(state, firing.fingerprint, minutes(26)) == (state, [])


def test_resolve_keeps_the_firing_evidence_without_new_and_never_ends_before_it_started(condition_factory):
    state, [firing] = fire(BrandAlerts(), condition_factory(), minutes(10))
    _, [resolved] = resolve(state, firing.fingerprint, minutes(5))
    assert resolved.evidence == firing.evidence
    assert resolved.ends_at == resolved.starts_at == minutes(10)


def test_resolve_by_hand_says_who_and_holds_until_the_condition_ends(condition_factory):
    c = condition_factory(rule="negative_surge", severity=Severity.CRITICAL)
    state, [firing] = fire(BrandAlerts(), c, minutes(0))
    state, [by_hand] = resolve_by_hand(state, firing.fingerprint, minutes(10), by="ana", reason="handled")
    assert by_hand.status == AlertStatus.RESOLVED and by_hand.ends_at == minutes(10)
    assert by_hand.annotations["resolved_by"] == "ana"
    assert by_hand.annotations["resolved_reason"] == "handled"
    assert by_hand.annotations["summary"] == c.summary
    # the surge still holds: no new alert while it does
    state, records = fire(state, c, minutes(11))
    assert records == [] and state.active == {}
    # the rule stops reporting it: no record, and it may fire again as a new alert
    state, records = resolve(state, firing.fingerprint, minutes(30))
    assert records == [] and state.held == {}
    state, [again] = fire(state, c, minutes(60))
    assert again.starts_at == minutes(60) and again.fingerprint == firing.fingerprint


def test_resolve_by_hand_of_an_alert_that_does_not_fire_does_nothing(condition_factory):
    assert resolve_by_hand(BrandAlerts(), "0123456789abcdef", minutes(1), by="ana") == (BrandAlerts(), [])


def test_evaluate_fires_first_then_resolves_what_no_longer_holds(condition_factory):
    warning = condition_factory()
    critical = condition_factory(severity=Severity.CRITICAL)
    state, records = evaluate(BrandAlerts(), "volume_spike", [warning], minutes(0))
    assert [r.status for r in records] == [AlertStatus.FIRING]
    state, records = evaluate(state, "volume_spike", [critical], minutes(1))
    assert [(r.severity, r.status) for r in records] == [
        (Severity.CRITICAL, AlertStatus.FIRING),
        (Severity.WARNING, AlertStatus.RESOLVED),
    ]
    state, records = evaluate(state, "volume_spike", [], minutes(2))
    assert [(r.severity, r.status) for r in records] == [(Severity.CRITICAL, AlertStatus.RESOLVED)]
    assert state == BrandAlerts()
    with pytest.raises(ValueError, match="viral"):
        evaluate(state, "volume_spike", [condition_factory(rule="viral")], minutes(3))


def test_evaluate_leaves_other_rules_alone(condition_factory):
    spike = condition_factory()
    viral = condition_factory(rule="viral", extra=(("post", "x:1"),))
    state, _ = evaluate(BrandAlerts(), "volume_spike", [spike], minutes(0))
    state, [viral_alert] = evaluate(state, "viral", [viral], minutes(0))
    state, _ = resolve_by_hand(state, viral_alert.fingerprint, minutes(1), by="ana")
    state, records = evaluate(state, "volume_spike", [spike], minutes(2))
    assert records == [] and viral_alert.fingerprint in state.held
    state, records = evaluate(state, "viral", [], minutes(3))
    assert records == [] and state.held == {}
    assert len(state.active) == 1


def test_one_state_per_brand(condition_factory):
    state, _ = fire(BrandAlerts(), condition_factory(), minutes(0))
    with pytest.raises(ValueError, match="skyline"):
        fire(state, condition_factory(brand="skyline"), minutes(1))


def test_state_and_records_round_trip_through_json(condition_factory):
    state, _ = fire(BrandAlerts(), condition_factory(), minutes(0))
    state, _ = fire(state, condition_factory(rule="viral", extra=(("post", "x:1"),)), minutes(1))
    fp = next(iter(state.active))
    state, _ = resolve_by_hand(state, fp, minutes(2), by="ana")
    assert BrandAlerts.model_validate_json(state.model_dump_json()) == state


_steps = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(["holds", "stops", "by_hand"]), st.integers(0, 5)),
    max_size=40,
)


# the factory is stateless, so sharing it between examples is safe
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_steps)
def test_records_alternate_and_replay_byte_identically(steps, condition_factory):
    """Any sequence of evaluations: per fingerprint the records alternate firing/resolved starting with firing,
    every resolved record ends at or after its start, and running the same inputs again gives the same bytes."""
    conditions = [
        condition_factory(),
        condition_factory(severity=Severity.CRITICAL),
        condition_factory(rule="viral", extra=(("post", "x:1"),)),
        condition_factory(rule="viral", extra=(("post", "x:2"),)),
    ]

    def run() -> list[Alert]:
        state, out, t = BrandAlerts(), [], 0
        for which, op, dt in steps:
            t += dt
            c = conditions[which]
            fp = fingerprint(labels_of(c))
            if op == "holds":
                state, records = fire(state, c, minutes(t))
            elif op == "stops":
                state, records = resolve(state, fp, minutes(t))
            else:
                state, records = resolve_by_hand(state, fp, minutes(t), by="ana")
            out.extend(records)
        return out

    first, second = run(), run()
    assert [a.model_dump_json() for a in first] == [a.model_dump_json() for a in second]
    last: dict[str, AlertStatus] = {}
    for a in first:
        assert last.get(a.fingerprint, AlertStatus.RESOLVED) != a.status
        last[a.fingerprint] = a.status
        if a.status == AlertStatus.RESOLVED:
            assert a.ends_at >= a.starts_at
