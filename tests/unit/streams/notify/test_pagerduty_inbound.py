from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.alerts import Action
from streams.notify.pagerduty_inbound import to_action, verify

NOW = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)


def pd_signature(body: bytes, secret: str) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def v3_event(event_type: str = "incident.acknowledged", **data_overrides) -> dict:
    """A PagerDuty V3 webhook body shaped as in PagerDuty's "Webhook Payload" example."""
    data = {
        "id": "PGR0VU2",
        "type": "incident",
        "self": "https://api.pagerduty.com/incidents/PGR0VU2",
        "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
        "number": 2,
        "status": "acknowledged",
        "incident_key": "nordair:1709294400",
        "created_at": "2024-03-01T12:00:02Z",
        "title": "nordair: negative_surge 41 vs baseline 6",
    }
    data.update(data_overrides)
    return {
        "event": {
            "id": "5ac64822-4adc-4fda-ade0-410becf0de4f",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2024-03-01T12:05:00.169Z",
            "agent": {
                "html_url": "https://acme.pagerduty.com/users/PLH1HKV",
                "id": "PLH1HKV",
                "summary": "Kari Nordmann",
                "type": "user_reference",
            },
            "client": {"name": "PagerDuty"},
            "data": data,
        }
    }


def test_a_signature_under_any_current_secret_verifies():
    body = orjson.dumps(v3_event())
    header = f"{pd_signature(body, 'new-secret')},{pd_signature(body, 'old-secret')}"
    assert verify(body, header, ["new-secret"])
    assert verify(body, header, ["old-secret"])
    assert verify(body, header, ["other", "old-secret"])
    assert verify(body, pd_signature(body, "new-secret").upper().replace("V1=", "v1="), ["new-secret"])


@pytest.mark.parametrize(
    ("header", "secrets"),
    [
        ("", ["s"]),
        ("v1=abc", []),
        ("v0=" + "0" * 64, ["s"]),
        ("garbage", ["s"]),
    ],
)
def test_missing_or_foreign_signatures_do_not_verify(header, secrets):
    assert not verify(b"{}", header, secrets)


def test_a_changed_body_does_not_verify():
    body = orjson.dumps(v3_event())
    header = pd_signature(body, "s")
    assert not verify(body.replace(b"Kari", b"Mallory"), header, ["s"])
    assert not verify(body, header, ["t"])


@given(st.binary(max_size=300), st.text(min_size=1, max_size=40))
def test_verify_accepts_exactly_its_own_signature(body, secret):
    assert verify(body, pd_signature(body, secret), [secret])
    assert not verify(body + b"x", pd_signature(body, secret), [secret])


def test_acknowledged_in_pagerduty_becomes_an_ack_of_the_lytte_incident():
    action = to_action(orjson.dumps(v3_event()), NOW)
    assert action == Action(
        id="pagerduty:5ac64822-4adc-4fda-ade0-410becf0de4f",
        kind="ack",
        at=datetime(2024, 3, 1, 12, 5, 0, 169000, tzinfo=UTC),
        by="Kari Nordmann",
        reason="acknowledged in PagerDuty (incident PGR0VU2)",
        brand="nordair",
        incident="nordair:1709294400",
        origin="pagerduty",
    )


def test_resolved_in_pagerduty_becomes_a_resolve():
    body = v3_event("incident.resolved", status="resolved")
    body["event"]["agent"] = None
    del body["event"]["occurred_at"]
    action = to_action(orjson.dumps(body), NOW)
    assert action is not None
    assert (action.kind, action.by, action.at, action.incident, action.brand) == (
        "resolve",
        "pagerduty",
        NOW,
        "nordair:1709294400",
        "nordair",
    )


def test_the_same_webhook_delivered_twice_is_the_same_action():
    body = orjson.dumps(v3_event())
    assert to_action(body, NOW) == to_action(body, datetime(2024, 3, 2, tzinfo=UTC))


@pytest.mark.parametrize(
    "body",
    [
        orjson.dumps(v3_event("incident.triggered")),
        orjson.dumps(v3_event("incident.annotated")),
        orjson.dumps(v3_event("service.updated")),
        orjson.dumps(v3_event(incident_key=None)),  # an incident made by hand in PagerDuty
        orjson.dumps(v3_event(incident_key="d3640fbd41094207a1c11e58e46b1662")),  # another integration's key
        orjson.dumps(v3_event(incident_key="lytte:" + "a" * 64)),  # a hashed group key: no lytte incident
        orjson.dumps({"event": {"event_type": "incident.acknowledged"}}),
        b"[]",
        b"not json",
        b"",
    ],
)
def test_what_is_not_an_ack_or_resolve_of_a_lytte_incident_is_none(body):
    assert to_action(body, NOW) is None


@given(st.binary(max_size=200))
def test_to_action_never_raises_on_garbage(body):
    result = to_action(body, NOW)
    assert result is None or isinstance(result, Action)
