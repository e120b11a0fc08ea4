"""Request bodies: Alertmanager v4 for generic webhooks, Slack Block Kit, PagerDuty Events v2.

`make_alert` and `make_notification` build records with overrides (test_sender imports them too).
"""

from __future__ import annotations

import itertools
import math
import re
from datetime import UTC, datetime, timedelta

import jsonschema
import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from schemas.alert_config import Receiver
from schemas.alerts import Alert, AlertEvidence, AlertStatus, Notification, fingerprint
from schemas.records import TopPost
from streams.notify import payloads
from streams.notify.payloads import (
    PD_SUMMARY_CHARS,
    SLACK_MAX_BLOCKS,
    ZERO_TIME,
    alertmanager_v4,
    body_for,
    dedup_key,
    exact_number,
    human_number,
    pagerduty_event,
    rfc3339,
    slack_escape,
    slack_message,
    slack_untrusted,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
EXTERNAL = "https://lytte.example"
_ids = itertools.count(1)


def make_alert(
    alertname: str = "volume_spike",
    brand: str = "nordair",
    severity: str = "warning",
    status: AlertStatus = AlertStatus.FIRING,
    *,
    value: float = 120.0,
    baseline: float = 20.0,
    score: float = 6.25,
    threshold: float = 5.0,
    top_posts: tuple[TopPost, ...] = (),
    post_ids: tuple[str, ...] = (),
    annotations: dict[str, str] | None = None,
    extra_labels: dict[str, str] | None = None,
    detail: str = "",
    starts_at: datetime = T0,
    ends_at: datetime | None = None,
) -> Alert:
    labels = {"alertname": alertname, "brand": brand, "severity": severity, **(extra_labels or {})}
    return Alert(
        fingerprint=fingerprint(labels),
        status=status,
        labels=labels,
        annotations=annotations or {},
        starts_at=starts_at,
        ends_at=ends_at if ends_at is not None or status == AlertStatus.FIRING else starts_at + timedelta(minutes=30),
        event_time=starts_at,
        evidence=AlertEvidence(
            window_start=starts_at - timedelta(minutes=10),
            window_end=starts_at,
            value=value,
            baseline=baseline,
            score=score,
            threshold=threshold,
            top_posts=top_posts,
            post_ids=post_ids,
            repost_share=0.25,
            unique_authors=87,
            amplification="organic",
            detail=detail,
        ),
    )


def make_notification(
    *alerts: Alert,
    receiver: str = "oncall",
    incident: str | None = "nordair:1709294400",
    webhook_id: str | None = None,
    truncated: int = 0,
    created_at: datetime = T0,
    group_key: str = '{}:{brand="nordair"}',
) -> Notification:
    alerts = alerts or (make_alert(),)
    status = AlertStatus.FIRING if any(a.status == AlertStatus.FIRING for a in alerts) else AlertStatus.RESOLVED
    return Notification(
        webhook_id=webhook_id or f"msg_test{next(_ids)}",
        receiver=receiver,
        group_key=group_key,
        group_labels={"brand": alerts[0].labels["brand"]},
        status=status,
        alerts=alerts,
        created_at=created_at,
        incident=incident,
        truncated_alerts=truncated,
    )


def post(text: str, reach: int = 1000, post_id: str = "p1", handle: str = "someone") -> TopPost:
    return TopPost(post_id=post_id, author_handle=handle, reach=reach, compound=-0.6, text=text)


# ---- Alertmanager v4 -----------------------------------------------------------------------------------------

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_TIME = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"}
#: the body Alertmanager's webhook notifier sends (version 4), as receivers written for it read it
ALERTMANAGER_V4 = {
    "type": "object",
    "required": [
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    ],
    "additionalProperties": False,
    "properties": {
        "version": {"const": "4"},
        "groupKey": {"type": "string"},
        "truncatedAlerts": {"type": "integer", "minimum": 0},
        "status": {"enum": ["firing", "resolved"]},
        "receiver": {"type": "string"},
        "groupLabels": _STRING_MAP,
        "commonLabels": _STRING_MAP,
        "commonAnnotations": _STRING_MAP,
        "externalURL": {"type": "string"},
        "alerts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"],
                "additionalProperties": False,
                "properties": {
                    "status": {"enum": ["firing", "resolved"]},
                    "labels": _STRING_MAP,
                    "annotations": _STRING_MAP,
                    "startsAt": _TIME,
                    "endsAt": _TIME,
                    "generatorURL": {"type": "string"},
                    "fingerprint": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
                },
            },
        },
    },
}


def test_alertmanager_v4_has_every_field_and_validates():
    spike = make_alert(top_posts=(post("delayed again", reach=5000, post_id="p9"),), post_ids=("p9", "p10"))
    surge = make_alert("negative_surge", severity="critical", value=41.0, baseline=6.0, score=7.5)
    n = make_notification(spike, surge, truncated=2)
    body = alertmanager_v4(n, "oncall", EXTERNAL)
    jsonschema.validate(body, ALERTMANAGER_V4)
    assert body["version"] == "4" and body["receiver"] == "oncall" and body["status"] == "firing"
    assert body["groupKey"] == n.group_key and body["truncatedAlerts"] == 2 and body["externalURL"] == EXTERNAL
    assert body["groupLabels"] == {"brand": "nordair"}
    assert body["commonLabels"] == {"brand": "nordair"}  # alertname and severity differ
    assert [a["fingerprint"] for a in body["alerts"]] == [spike.fingerprint, surge.fingerprint]  # notification order
    first = body["alerts"][0]
    assert first["startsAt"] == "2024-03-01T12:00:00Z" and first["endsAt"] == ZERO_TIME
    assert first["generatorURL"] == f"{EXTERNAL}/alerts?fingerprint={spike.fingerprint}"
    notes = first["annotations"]
    assert notes["summary"] == "nordair: volume_spike 120 vs baseline 20 (score 6.25, fires at 5)"
    assert notes["description"].startswith("Many distinct people: 87 unique authors, 25% reposts")
    assert (notes["value"], notes["baseline"], notes["score"], notes["threshold"]) == ("120", "20", "6.25", "5")
    assert (notes["repost_share"], notes["unique_authors"], notes["amplification"]) == ("0.25", "87", "organic")
    assert notes["window_start"] == "2024-03-01T11:50:00Z" and notes["window_end"] == "2024-03-01T12:00:00Z"
    assert notes["dashboard_url"] == f"{EXTERNAL}/?brand=nordair"
    assert notes["top_post_id"] == "p9"
    evidence = orjson.loads(notes["evidence"])
    assert evidence["value"] == 120.0 and evidence["post_ids"] == ["p9", "p10"]
    assert evidence["top_posts"][0]["text"] == "delayed again"
    assert "buckets" not in evidence and "offsets" not in evidence


def test_alertmanager_resolved_alert_has_its_end_and_own_annotations_win():
    resolved = make_alert(status=AlertStatus.RESOLVED, annotations={"summary": "the engine's own words"})
    body = alertmanager_v4(make_notification(resolved), "oncall", EXTERNAL)
    jsonschema.validate(body, ALERTMANAGER_V4)
    assert body["status"] == "resolved"
    assert body["alerts"][0]["endsAt"] == "2024-03-01T12:30:00Z"
    assert body["alerts"][0]["annotations"]["summary"] == "the engine's own words"
    assert "description" in body["alerts"][0]["annotations"]


def test_alertmanager_numbers_are_exact_and_non_finite_ones_survive():
    alert = make_alert(value=math.inf, baseline=0.1 + 0.2, score=math.nan)
    notes = alertmanager_v4(make_notification(alert), "oncall", EXTERNAL)["alerts"][0]["annotations"]
    assert notes["value"] == "+Inf" and notes["score"] == "NaN" and float(notes["baseline"]) == 0.1 + 0.2
    evidence = orjson.loads(notes["evidence"])
    assert evidence["value"] is None and evidence["score"] is None


def test_alertmanager_evidence_is_bounded():
    posts = tuple(post("x" * 2000, reach=i, post_id=f"p{i}") for i in range(9))
    alert = make_alert(top_posts=posts, post_ids=tuple(f"p{i}" for i in range(300)))
    evidence = orjson.loads(
        alertmanager_v4(make_notification(alert), "o", EXTERNAL)["alerts"][0]["annotations"]["evidence"]
    )
    assert len(evidence["top_posts"]) == payloads.MAX_TOP_POSTS
    assert [p["reach"] for p in evidence["top_posts"]] == [8, 7, 6, 5, 4]
    assert all(len(p["text"]) == payloads.MAX_POST_CHARS for p in evidence["top_posts"])
    assert len(evidence["post_ids"]) == payloads.MAX_POST_IDS and evidence["post_ids_total"] == 300


def test_body_for_each_receiver_type(monkeypatch):
    n = make_notification()
    webhook = Receiver(name="oncall", type="webhook", url="https://hooks.example/x")
    body, headers = body_for(webhook, n, EXTERNAL)
    assert headers == {"content-type": "application/json"}
    assert orjson.loads(body)["receiver"] == "oncall"
    slack = Receiver(name="social", type="slack", url="https://hooks.slack.com/services/T/B/X")
    assert "blocks" in orjson.loads(body_for(slack, n, EXTERNAL)[0])
    pager = Receiver(name="pager", type="pagerduty", routing_key_env="TEST_PD_KEY")
    with pytest.raises(ValueError, match="TEST_PD_KEY is not set"):
        body_for(pager, n, EXTERNAL)
    monkeypatch.setenv("TEST_PD_KEY", "R0UT1NGKEY")
    assert orjson.loads(body_for(pager, n, EXTERNAL)[0])["routing_key"] == "R0UT1NGKEY"


# ---- Slack ---------------------------------------------------------------------------------------------------


def _texts(message: dict) -> list[str]:
    found: list[str] = []

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "text" and isinstance(v, str):
                    found.append(v)
                else:
                    walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(message)
    return found


def test_slack_escapes_and_defangs_untrusted_text():
    hostile = post("<!channel> see <https://evil.example|free tickets> & HTTPS://x.io now", handle="a<b>&c")
    alert = make_alert(top_posts=(hostile,), detail="query matched <script> & http://x", extra_labels={"who": "<@U1>"})
    message = slack_message(make_notification(alert), EXTERNAL)
    section = message["blocks"][1]["text"]
    assert section["type"] == "mrkdwn" and section["verbatim"] is True
    text = section["text"]
    assert "&lt;!channel&gt; see &lt;https[:]//evil.example|free tickets&gt; &amp; HTTPS[:]//x.io now" in text
    assert "@a&lt;b&gt;&amp;c" in text
    assert "query matched &lt;script&gt; &amp; http[:]//x" in text
    assert "who=&lt;@U1&gt;" in text
    for mrkdwn in _texts([b for b in message["blocks"] if b["type"] != "header"]):
        assert "<" not in mrkdwn and ">" not in mrkdwn.replace("\n>", "\n")  # only the quote marker
        assert "://" not in mrkdwn or mrkdwn.startswith("http")  # the button URL is a url, not text


def test_slack_escape():
    assert slack_escape("a <b> & c") == "a &lt;b&gt; &amp; c"
    assert slack_escape("&lt;") == "&amp;lt;"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("_https://evil.example", "_https[:]//evil.example"),  # no word boundary before the scheme
        ("1http://z", "1http[:]//z"),
        ("<!here> & <@U1>", "&lt;!here&gt; &amp; &lt;@U1&gt;"),
        ("two\n\nlines", "two lines"),
    ],
)
def test_slack_untrusted_cases(text, expected):
    assert slack_untrusted(text, 100) == expected


@given(st.text(max_size=400), st.integers(min_value=1, max_value=300))
@example("_https://evil.example", 100)
def test_slack_untrusted_can_neither_link_nor_mention(text, limit):
    out = slack_untrusted(text, limit)
    assert "<" not in out and ">" not in out
    assert "://" not in out
    assert "\n" not in out
    assert re.sub(r"&(amp|lt|gt);", "", out).count("&") == 0


def test_slack_message_shape_and_limits():
    alerts = [make_alert(f"rule{i}", severity="critical" if i == 3 else "info") for i in range(8)]
    message = slack_message(make_notification(*alerts, truncated=60), EXTERNAL)
    blocks = message["blocks"]
    assert len(blocks) <= SLACK_MAX_BLOCKS
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= payloads.SLACK_HEADER_CHARS
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) == payloads.SLACK_MAX_ALERTS + 1
    assert "*rule3*" in sections[0]["text"]["text"]  # critical first
    assert sections[-1]["text"]["text"] == "…and 63 more alerts"
    assert blocks[-1]["elements"][0]["url"] == f"{EXTERNAL}/?brand=nordair"
    assert message["text"].startswith("🔴 FIRING nordair:") and message["text"].endswith("(68 alerts)")
    assert message["unfurl_links"] is False and message["unfurl_media"] is False
    assert all(len(t) <= payloads.SLACK_SECTION_CHARS for t in _texts(blocks))


def test_slack_resolved():
    message = slack_message(make_notification(make_alert(status=AlertStatus.RESOLVED)), EXTERNAL)
    assert message["text"] == "✅ RESOLVED nordair: volume_spike"
    assert message["blocks"][0]["text"]["text"] == "✅ Resolved: nordair: volume_spike"


# ---- PagerDuty -----------------------------------------------------------------------------------------------


def test_pagerduty_trigger_and_resolve_share_the_dedup_key():
    surge = make_alert("negative_surge", severity="critical", value=41.0, baseline=6.0, score=7.5)
    trigger = pagerduty_event(make_notification(surge, make_alert()), "KEY", EXTERNAL)
    assert trigger["event_action"] == "trigger" and trigger["dedup_key"] == "nordair:1709294400"
    assert trigger["routing_key"] == "KEY"
    payload = trigger["payload"]
    assert payload["summary"] == "nordair: negative_surge 41 vs baseline 6 (score 7.5, fires at 5) (+1 more)"
    assert (payload["severity"], payload["source"], payload["component"]) == ("critical", "lytte", "nordair")
    assert payload["timestamp"] == "2024-03-01T12:00:00Z"
    assert [a["labels"]["alertname"] for a in payload["custom_details"]["alerts"]] == ["negative_surge", "volume_spike"]
    assert trigger["links"][0]["href"] == f"{EXTERNAL}/?brand=nordair"
    resolved = make_notification(make_alert("negative_surge", severity="critical", status=AlertStatus.RESOLVED))
    resolve = pagerduty_event(resolved, "KEY", EXTERNAL)
    assert resolve == {"routing_key": "KEY", "event_action": "resolve", "dedup_key": "nordair:1709294400"}


def test_pagerduty_limits():
    long_brand = make_alert(brand="b" * 2000)
    n = make_notification(long_brand, incident=None, group_key="g" * 300)
    event = pagerduty_event(n, "KEY", EXTERNAL)
    assert len(event["payload"]["summary"]) == PD_SUMMARY_CHARS and event["payload"]["summary"].endswith("…")
    assert re.fullmatch(r"lytte:[0-9a-f]{64}", event["dedup_key"])
    assert dedup_key(n) == event["dedup_key"]  # stable
    assert dedup_key(make_notification(incident=None, group_key="short")) == "short"
    assert _severity_of(make_alert(severity="info")) == "info"


def _severity_of(alert: Alert) -> str:
    return pagerduty_event(make_notification(alert), "K", EXTERNAL)["payload"]["severity"]


# ---- shared pieces -------------------------------------------------------------------------------------------


def test_rfc3339():
    from datetime import timezone

    assert rfc3339(datetime(2024, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=1)))) == "2024-03-01T11:00:00Z"
    assert rfc3339(datetime(2024, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)) == "2024-03-01T12:00:00.25Z"


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_exact_number_round_trips(x):
    assert float(exact_number(x)) == x


def test_human_number():
    assert [human_number(x) for x in (120.0, 12345.6, 20.57, 6.234, math.inf, math.nan)] == [
        "120",
        "12,346",
        "20.6",
        "6.23",
        "∞",
        "n/a",
    ]
