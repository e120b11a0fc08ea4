"""PagerDuty's V3 incident webhooks back into lytte: an acknowledgement or resolution made in PagerDuty becomes an
`Action` on `lytte.actions`, as if the on-call person had done it in lytte. Pure: the HTTP route that receives the
webhook calls `verify` on the raw body, then `to_action`, and produces the action.

How an incident finds its way back: lytte triggers PagerDuty events with `dedup_key` = the lytte incident id
("<brand>:<epoch seconds>", `payloads.dedup_key`). PagerDuty keeps an Events API v2 dedup key as the incident's
`incident_key`, and a V3 webhook about an incident carries the incident as `event.data` (`data.type` "incident")
with that `incident_key`. A group key (no lytte incident) or a hashed key ("lytte:<64 hex>") does not name a lytte
incident and is ignored, as are incidents created in PagerDuty by hand (no or another incident_key).

Signatures (PagerDuty "Verifying Signatures"): `X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the raw body with the
subscription's secret>`, several comma-separated during a secret rotation; one match is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime

import orjson

from schemas.alerts import Action

#: the V3 event types that become actions, and the action they become
EVENT_ACTIONS = {"incident.acknowledged": "ack", "incident.resolved": "resolve"}
_INCIDENT_ID = re.compile(r"^([a-z0-9][a-z0-9_-]*):[0-9]+$")


def verify(body: bytes, signature_header: str, secrets: list[str]) -> bool:
    """True when one of the `v1=` signatures in the header is the HMAC-SHA256 of `body` under one of `secrets`.

    Scenario: body b'{"event":{}}', secrets ["old", "new"], header "v1=<hmac under new>,v1=<hmac under old>" ->
    True; the same header for a body with one byte changed -> False; a header with only "v0=..." entries, an empty
    header or no secrets -> False. Comparisons are constant-time.
    """
    if not signature_header or not secrets:
        return False
    offered = [
        part.strip()[3:].strip().lower() for part in signature_header.split(",") if part.strip().startswith("v1=")
    ]
    if not offered:
        return False
    found = False
    for secret in secrets:
        if not secret:
            continue
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        for candidate in offered:
            # no early return: the time taken does not tell which secret or which signature matched
            found |= hmac.compare_digest(expected, candidate)
    return found


def _summary(agent: object) -> str:
    if isinstance(agent, dict):
        summary = agent.get("summary")
        if isinstance(summary, str) and summary.strip():
            return " ".join(summary.split())[:200]
    return "pagerduty"


def to_action(body: bytes, now: datetime) -> Action | None:
    """The lytte action a verified V3 webhook body stands for, or None when it stands for none.

    Scenario: {"event": {"id": "01ABC", "event_type": "incident.acknowledged", "occurred_at":
    "2024-03-01T12:05:00Z", "agent": {"summary": "Kari Nordmann"}, "data": {"id": "PGR0VU2", "type": "incident",
    "incident_key": "nordair:1709294400"}}} -> Action(id="pagerduty:01ABC", kind="ack", at=12:05:00 UTC,
    by="Kari Nordmann", reason="acknowledged in PagerDuty (incident PGR0VU2)", brand="nordair",
    incident="nordair:1709294400", origin="pagerduty"). "incident.resolved" -> kind "resolve"; no agent ->
    by "pagerduty"; no or a malformed occurred_at -> at = now. Other event types, bodies that are not JSON
    objects, or an incident_key that is not a lytte incident id -> None.

    The action id is derived from PagerDuty's event id, so that a webhook PagerDuty delivers twice becomes the
    same action twice, which the consumers of `lytte.actions` treat as one.
    """
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    event = payload.get("event") if isinstance(payload, dict) else None
    if not isinstance(event, dict):
        return None
    kind = EVENT_ACTIONS.get(str(event.get("event_type", "")))
    data = event.get("data")
    if kind is None or not isinstance(data, dict):
        return None
    incident_key = data.get("incident_key")
    found = _INCIDENT_ID.match(incident_key) if isinstance(incident_key, str) else None
    if found is None:
        return None
    at = now
    occurred = event.get("occurred_at")
    if isinstance(occurred, str):
        try:
            parsed = datetime.fromisoformat(occurred.replace("Z", "+00:00"))
            if parsed.tzinfo is not None:
                at = parsed
        except ValueError:
            pass
    event_id = event.get("id")
    pd_incident = data.get("id")
    where = f" (incident {pd_incident})" if isinstance(pd_incident, str) and pd_incident else ""
    verb = "acknowledged" if kind == "ack" else "resolved"
    return Action(
        id=f"pagerduty:{event_id}" if isinstance(event_id, str) and event_id else f"pagerduty:{kind}:{incident_key}",
        kind=kind,
        at=at,
        by=_summary(event.get("agent")),
        reason=f"{verb} in PagerDuty{where}",
        brand=found.group(1),
        incident=incident_key,
        origin="pagerduty",
    )
