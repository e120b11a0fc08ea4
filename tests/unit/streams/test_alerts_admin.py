from datetime import UTC, datetime, timedelta

import pytest

from schemas.alerts import Action, Alert, AlertEvidence, AlertStatus, Incident, Severity, fingerprint
from streams.alerts_admin import (
    AlertBoard,
    AlertsAdminError,
    board_text,
    expire_action,
    parse_duration,
    silence_action,
    target_action,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


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


def incident(fps: tuple[str, ...]) -> Incident:
    return Incident(
        id="nordair:1795000000",
        brand="nordair",
        status="opened",
        opened_at=NOW,
        updated_at=NOW,
        severity=Severity.WARNING,
        alerts=fps,
        firing=fps,
    )


def test_the_board_folds_the_latest_state_of_each_alert_silence_and_ack():
    spike, person = alert(), alert("key_person", person="ingrid_news")
    silence = silence_action(["brand=nordair"], timedelta(hours=1), "known outage", "ana", NOW)
    ack = target_action(
        "ack", "nordair:1795000000", AlertBoard(incidents={"nordair:1795000000": incident(())}), "", "ana", NOW
    )
    board = AlertBoard().fold(
        [spike, person, alert(status=AlertStatus.RESOLVED)],
        [incident((spike.fingerprint, person.fingerprint))],
        [silence, ack],
    )
    assert [a.rule for a in board.firing()] == ["key_person"]
    assert set(board.acked) == {"nordair:1795000000", spike.fingerprint, person.fingerprint}
    assert [s.comment for s in board.active_silences(NOW)] == ["known outage"]
    assert board.active_silences(NOW + timedelta(hours=2)) == []
    board.fold([], [], [expire_action(silence.silence.id, board, "ana", NOW)])
    assert board.active_silences(NOW) == []
    text = "\n".join(board_text(board, NOW))
    assert "key_person" in text and "person=ingrid_news" in text and "(acked by ana)" in text


def test_actions_refuse_what_would_silently_do_nothing():
    board = AlertBoard().fold([alert()], [], [])
    with pytest.raises(AlertsAdminError, match="needs a --reason"):
        silence_action(["brand=nordair"], timedelta(hours=1), " ", "ana", NOW)
    with pytest.raises(AlertsAdminError, match="at least one --match"):
        silence_action([], timedelta(hours=1), "x", "ana", NOW)
    with pytest.raises(AlertsAdminError, match="bad matcher"):
        silence_action(["brand"], timedelta(hours=1), "x", "ana", NOW)
    with pytest.raises(AlertsAdminError, match="no alert 0123456789abcdef"):
        target_action("resolve", "0123456789abcdef", board, "", "ana", NOW)
    with pytest.raises(AlertsAdminError, match="not an alert fingerprint"):
        target_action("resolve", "nordair:1795000000", board, "", "ana", NOW)
    with pytest.raises(AlertsAdminError, match="no silence"):
        expire_action("silence-x", board, "ana", NOW)
    resolve = target_action("resolve", alert().fingerprint, board, "handled", "ana", NOW)
    assert (resolve.kind, resolve.brand, resolve.by, resolve.reason) == ("resolve", "nordair", "ana", "handled")
    assert isinstance(Action.model_validate_json(resolve.model_dump_json()), Action)


@pytest.mark.parametrize(("text", "seconds"), [("90m", 5400), ("2h", 7200), ("1.5d", 129600), ("30s", 30)])
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "2", "h", "-1h", "0m", "2 weeks"])
def test_bad_durations(text):
    with pytest.raises(AlertsAdminError):
        parse_duration(text)
