from datetime import UTC, datetime, timedelta

import pytest

from schemas.alert_actions import (
    AlertBoard,
    AlertsAdminError,
    expire_action,
    parse_duration,
    silence_action,
    target_action,
)
from schemas.alerts import Action, Alert, AlertEvidence, AlertStatus, Incident, Severity, fingerprint

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
INCIDENT = "nordair:1795000000"


def alert(rule: str = "volume_spike", status: AlertStatus = AlertStatus.FIRING, **extra) -> Alert:
    labels = {"alertname": rule, "brand": "nordair", "severity": Severity.WARNING.value, **extra}
    evidence = AlertEvidence(window_start=NOW, window_end=NOW, value=50, baseline=5, score=7, threshold=4)
    return Alert(
        fingerprint=fingerprint(labels),
        status=status,
        labels=labels,
        starts_at=NOW - timedelta(minutes=5),
        ends_at=NOW if status == AlertStatus.RESOLVED else None,
        event_time=NOW,
        evidence=evidence,
    )


def incident(fps: tuple[str, ...], status: str = "opened") -> Incident:
    return Incident(
        id=INCIDENT,
        brand="nordair",
        status=status,
        opened_at=NOW,
        updated_at=NOW,
        resolved_at=NOW if status == "resolved" else None,
        severity=Severity.WARNING,
        alerts=fps,
        firing=() if status == "resolved" else fps,
    )


def test_the_board_folds_the_latest_state_of_each_alert_silence_and_ack():
    spike, person = alert(), alert("key_person", person="ingrid_news")
    silence = silence_action(["brand=nordair"], timedelta(hours=1), "known outage", "ana", NOW)
    ack = target_action("ack", INCIDENT, AlertBoard(incidents={INCIDENT: incident(())}), "", "ana", NOW)
    board = AlertBoard().fold(
        [spike, person, alert(status=AlertStatus.RESOLVED)],
        [incident((spike.fingerprint, person.fingerprint))],
        [silence, ack],
    )
    assert [a.rule for a in board.firing()] == ["key_person"]
    assert [i.id for i in board.open_incidents()] == [INCIDENT]
    assert set(board.acked) == {INCIDENT, spike.fingerprint, person.fingerprint}
    assert [s.comment for s in board.active_silences(NOW)] == ["known outage"]
    assert board.active_silences(NOW + timedelta(hours=2)) == []
    board.fold([], [], [expire_action(silence.silence.id, board, "ana", NOW)])
    assert board.active_silences(NOW) == []


def test_a_resolve_is_not_an_ack():
    spike = alert()
    board = AlertBoard().fold(
        [spike], [], [target_action("resolve", spike.fingerprint, AlertBoard().fold([spike], [], []), "", "ana", NOW)]
    )
    assert board.acked == {}


def test_actions_refuse_what_would_silently_do_nothing():
    board = AlertBoard().fold([alert()], [incident((), "resolved")], [])
    with pytest.raises(AlertsAdminError, match="needs a --reason"):
        silence_action(["brand=nordair"], timedelta(hours=1), " ", "ana", NOW)
    with pytest.raises(AlertsAdminError, match="at least one --match"):
        silence_action([], timedelta(hours=1), "x", "ana", NOW)
    with pytest.raises(AlertsAdminError, match="bad matcher"):
        silence_action(["brand"], timedelta(hours=1), "x", "ana", NOW)
    with pytest.raises(AlertsAdminError, match="no alert 0123456789abcdef"):
        target_action("resolve", "0123456789abcdef", board, "", "ana", NOW)
    for kind in ("ack", "resolve"):
        with pytest.raises(AlertsAdminError, match="no incident nordair:1"):
            target_action(kind, "nordair:1", board, "", "ana", NOW)
        with pytest.raises(AlertsAdminError, match="not an alert fingerprint"):
            target_action(kind, "nordair", board, "", "ana", NOW)
    with pytest.raises(AlertsAdminError, match="already resolved"):
        target_action("resolve", INCIDENT, board, "", "ana", NOW)
    with pytest.raises(AlertsAdminError, match="no silence"):
        expire_action("silence-x", board, "ana", NOW)
    resolve = target_action("resolve", alert().fingerprint, board, "handled", "ana", NOW)
    assert (resolve.kind, resolve.brand, resolve.by, resolve.reason) == ("resolve", "nordair", "ana", "handled")
    assert isinstance(Action.model_validate_json(resolve.model_dump_json()), Action)


@pytest.mark.parametrize("kind", ["ack", "resolve"])
def test_an_open_incident_is_acknowledged_or_resolved_by_its_id(kind):
    spike = alert()
    board = AlertBoard().fold([spike], [incident((spike.fingerprint,))], [])
    action = target_action(kind, INCIDENT, board, "handled", "ana", NOW)
    # what the alert engine's worker needs to resolve an incident by hand: the brand and the incident id
    assert (action.kind, action.incident, action.brand, action.fingerprint) == (kind, INCIDENT, "nordair", None)
    assert (action.by, action.reason, action.at) == ("ana", "handled", NOW)
    assert Action.model_validate_json(action.model_dump_json()) == action


def test_a_silence_of_one_brand_is_keyed_by_it():
    one = silence_action(["brand=nordair", "alertname=volume_spike"], timedelta(hours=2), " outage ", "ana", NOW)
    assert (one.kind, one.brand, one.reason, one.silence.comment) == ("silence", "nordair", "outage", "outage")
    assert (one.silence.starts_at, one.silence.ends_at) == (NOW, NOW + timedelta(hours=2))
    assert [(m.name, m.op, m.value) for m in one.silence.matchers] == [
        ("brand", "=", "nordair"),
        ("alertname", "=", "volume_spike"),
    ]
    assert silence_action(["brand=~nord.*"], timedelta(hours=1), "x", "ana", NOW).brand is None


@pytest.mark.parametrize(("text", "seconds"), [("90m", 5400), ("2h", 7200), ("1.5d", 129600), ("30s", 30)])
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "2", "h", "-1h", "0m", "2 weeks"])
def test_bad_durations(text):
    with pytest.raises(AlertsAdminError):
        parse_duration(text)
