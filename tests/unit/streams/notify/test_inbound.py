"""The PagerDuty webhook endpoint over real HTTP on loopback (aiohttp's test server)."""

import asyncio
import hashlib
import hmac

import orjson
from aiohttp.test_utils import TestClient, TestServer

from streams.notify.inbound import inbound_app

SECRET = "pd-subscription-secret"


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-PagerDuty-Signature": "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def event(event_type: str, incident_key: str = "nordair:1709294400") -> bytes:
    return orjson.dumps(
        {
            "event": {
                "id": "01EVT",
                "event_type": event_type,
                "occurred_at": "2026-11-24T12:05:00Z",
                "agent": {"summary": "Kari Nordmann"},
                "data": {"id": "PGR0VU2", "type": "incident", "incident_key": incident_key},
            }
        }
    )


def post_all(requests: list[tuple[bytes, dict]]) -> tuple[list[int], list]:
    written: list = []

    async def run() -> list[int]:
        async with TestClient(TestServer(inbound_app([SECRET], written.append))) as client:
            statuses = []
            for body, headers in requests:
                response = await client.post("/pagerduty", data=body, headers=headers)
                statuses.append(response.status)
            return statuses

    return asyncio.run(run()), written


def test_an_acknowledgement_in_pagerduty_becomes_an_action():
    body = event("incident.acknowledged")
    statuses, written = post_all([(body, signed(body))])
    assert statuses == [202]
    (action,) = written
    assert (action.kind, action.incident, action.by, action.origin) == (
        "ack",
        "nordair:1709294400",
        "Kari Nordmann",
        "pagerduty",
    )


def test_a_wrong_or_missing_signature_writes_nothing():
    body = event("incident.resolved")
    statuses, written = post_all([(body, signed(body, "another secret")), (body, {}), (body + b" ", signed(body))])
    assert statuses == [401, 401, 401] and written == []


def test_events_that_are_no_action_are_accepted_and_ignored():
    other, foreign = event("incident.annotated"), event("incident.resolved", incident_key="made-by-hand")
    statuses, written = post_all([(other, signed(other)), (foreign, signed(foreign))])
    assert statuses == [204, 204] and written == []
