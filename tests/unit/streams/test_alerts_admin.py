from datetime import UTC, datetime, timedelta

from schemas.alert_actions import AlertBoard, silence_action, target_action
from schemas.alerts import Alert, AlertEvidence, AlertStatus, Incident, Severity, fingerprint
from streams.alerts_admin import board_text

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
        annotations={"summary": f"{rule} at nordair"},
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
        summary="2 alerts at nordair",
    )


def test_the_board_as_text_shows_what_fires_the_open_incidents_and_the_silences():
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
    lines = board_text(board, NOW)
    text = "\n".join(lines)
    assert lines[0] == "firing: 1"
    assert "key_person" in text and "person=ingrid_news" in text and "since 5 min ago" in text
    assert "(acked by ana)" in text and "key_person at nordair" in text
    assert "open incidents: 1" in text and "nordair:1795000000" in text and "2 alerts at nordair" in text
    assert "silences: 1" in text and "brand=nordair" in text and "by ana: known outage" in text
    assert "volume_spike" not in text, "resolved: not shown"
