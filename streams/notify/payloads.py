"""Request bodies for each receiver type, built from one `Notification`: pure functions, no I/O.

- `alertmanager_v4`: Prometheus Alertmanager's webhook body (`"version": "4"`), so that any receiver written for
  Alertmanager (alerta, Grafana OnCall, a Teams bridge, a home-grown handler) takes lytte's alerts unchanged.
- `slack_message`: a Slack incoming-webhook message (Block Kit).
- `pagerduty_event`: a PagerDuty Events API v2 event (trigger or resolve).
- `body_for`: the bytes and content type for a configured `Receiver`.

How the evidence travels in Alertmanager's shape (every label and annotation value there is a string):

- the alert's own annotations come first and are never overwritten (`summary`, `description` when the engine set
  them); when the engine set none, lytte writes a one-line `summary` and a `description`;
- `evidence`: the evidence as compact JSON (window, value, baseline, score, threshold, repost share, unique authors,
  amplification, detail, up to `MAX_TOP_POSTS` top posts and up to `MAX_POST_IDS` post ids; not the per-minute
  buckets nor the raw log offsets, which the wall shows), for receivers that parse it;
- the headline numbers again as flat strings for templates (`{{ .Annotations.value }}`): `value`, `baseline`,
  `score`, `threshold`, `repost_share`, `unique_authors`, `amplification`, `window_start`, `window_end`,
  `top_post_id` (when there is one) and `dashboard_url`. Numbers are written exactly (`repr` of the float, an
  integral value without `.0`; infinities as Prometheus writes them, `+Inf`/`-Inf`, and `NaN`).

Post text is untrusted: in Slack it is escaped (`&`, `<`, `>`), its URLs are defanged and every text object is
`verbatim` (Slack then makes no links or mentions of its own), so a post can neither add a link nor ping a channel.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson

from schemas.alert_config import Receiver
from schemas.alerts import Alert, AlertStatus, Notification, Severity
from schemas.records import TopPost

#: top posts and post ids of one alert carried in `evidence` (Alertmanager) and `custom_details` (PagerDuty)
MAX_TOP_POSTS = 5
MAX_POST_IDS = 100
#: characters of a post's text carried in evidence and shown in Slack
MAX_POST_CHARS = 500
SLACK_POST_CHARS = 280
#: alerts shown one by one in a Slack message; the rest are counted
SLACK_MAX_ALERTS = 5
#: Slack's limits (Block Kit reference)
SLACK_HEADER_CHARS = 150
SLACK_SECTION_CHARS = 3000
SLACK_MAX_BLOCKS = 50
SLACK_BUTTON_CHARS = 75
#: PagerDuty's limits (Events API v2)
PD_SUMMARY_CHARS = 1024
PD_DEDUP_KEY_CHARS = 255

#: Alertmanager's zero time: the `endsAt` of an alert that has not ended
ZERO_TIME = "0001-01-01T00:00:00Z"

JSON_CONTENT_TYPE = "application/json"

_SEVERITY_EMOJI = {Severity.CRITICAL: "🔴", Severity.WARNING: "🟠", Severity.INFO: "🔵"}
_RESOLVED_EMOJI = "✅"
_PD_SEVERITY = {Severity.CRITICAL: "critical", Severity.WARNING: "warning", Severity.INFO: "info"}
_AMPLIFICATION = {
    "amplified": "reposts by few accounts",
    "organic": "many distinct people",
    "single": "a single post or author",
}


# ---- shared pieces -------------------------------------------------------------------------------------------


def rfc3339(at: datetime) -> str:
    """A time as RFC 3339 in UTC with `Z`, fractions only when there are some (as Go's RFC3339Nano writes).

    Scenario: 2024-03-01 12:00:00+01:00 -> "2024-03-01T11:00:00Z"; 12:00:00.250 UTC -> "2024-03-01T12:00:00.25Z".
    """
    at = at.astimezone(UTC)
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    if at.microsecond:
        text += f".{at.microsecond:06d}".rstrip("0")
    return text + "Z"


def exact_number(x: float) -> str:
    """A number as an annotation string, exactly: 120.0 -> "120", 6.25 -> "6.25", inf -> "+Inf", nan -> "NaN"."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(float(x))


def human_number(x: float) -> str:
    """A number for people: 120.0 -> "120", 12345.6 -> "12,346", 20.57 -> "20.6", 6.234 -> "6.23", inf -> "∞"."""
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x.is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _base(external_url: str) -> str:
    return external_url.rstrip("/")


def wall_url(external_url: str, brand: str | None) -> str:
    """The wall, on one brand when there is one: ("https://lytte.example/", "nordair") ->
    "https://lytte.example/?brand=nordair"; no brand -> "https://lytte.example/"."""
    base = _base(external_url) + "/"
    return f"{base}?brand={quote(brand, safe='')}" if brand else base


def generator_url(external_url: str, fp: str) -> str:
    """The alert on the wall: ("http://h:8050", "0123456789abcdef") -> "http://h:8050/alerts?fingerprint=0123..."."""
    return f"{_base(external_url)}/alerts?fingerprint={quote(fp, safe='')}"


def _severity(alert: Alert) -> Severity:
    try:
        return alert.severity
    except (KeyError, ValueError):  # labels always hold a known severity; be lenient in what is only a message
        return Severity.WARNING


def group_status(n: Notification) -> AlertStatus:
    """Alertmanager's rule: the group is firing while any of its alerts fires (no alerts: the notification's)."""
    if not n.alerts:
        return n.status
    return AlertStatus.FIRING if any(a.status == AlertStatus.FIRING for a in n.alerts) else AlertStatus.RESOLVED


def ordered_alerts(n: Notification) -> list[Alert]:
    """Firing before resolved, the most urgent severity first, otherwise in the notification's order."""
    return sorted(n.alerts, key=lambda a: (a.status != AlertStatus.FIRING, _severity(a).rank))


def group_severity(n: Notification) -> Severity:
    """The most urgent severity among the firing alerts (among all of them when none fires; warning if none)."""
    firing = [a for a in n.alerts if a.status == AlertStatus.FIRING] or list(n.alerts)
    if not firing:
        return Severity.WARNING
    return min((_severity(a) for a in firing), key=lambda s: s.rank)


def _brands(n: Notification) -> list[str]:
    seen: dict[str, None] = {}
    for a in n.alerts:
        if "brand" in a.labels:
            seen.setdefault(a.labels["brand"])
    if not seen and "brand" in n.group_labels:
        seen.setdefault(n.group_labels["brand"])
    return list(seen)


def _one_brand(n: Notification) -> str | None:
    brands = _brands(n)
    return brands[0] if len(brands) == 1 else None


def _alertnames(n: Notification) -> list[str]:
    return list(dict.fromkeys(a.labels.get("alertname", "alert") for a in ordered_alerts(n)))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def top_post(alert: Alert) -> TopPost | None:
    """The alert's top post by reach (the first of equals), or None."""
    posts = alert.evidence.top_posts
    return max(posts, key=lambda p: p.reach) if posts else None


def evidence_dict(alert: Alert) -> dict[str, Any]:
    """The evidence as plain JSON values, bounded: no buckets nor offsets, at most `MAX_TOP_POSTS` top posts (by
    reach, their text clipped to `MAX_POST_CHARS`) and `MAX_POST_IDS` post ids; non-finite numbers become null.

    Scenario: an alert with value 120, baseline 20 and 300 post ids -> {"value": 120.0, "baseline": 20.0, ...,
    "post_ids": [first 100], "post_ids_total": 300}.
    """
    ev = alert.evidence
    posts = sorted(ev.top_posts, key=lambda p: -p.reach)[:MAX_TOP_POSTS]

    def num(x: float) -> float | None:
        return x if math.isfinite(x) else None

    out: dict[str, Any] = {
        "window_start": rfc3339(ev.window_start),
        "window_end": rfc3339(ev.window_end),
        "value": num(ev.value),
        "baseline": num(ev.baseline),
        "score": num(ev.score),
        "threshold": num(ev.threshold),
        "repost_share": ev.repost_share,
        "unique_authors": ev.unique_authors,
        "amplification": ev.amplification,
        "top_posts": [
            {
                "post_id": p.post_id,
                "author_handle": p.author_handle,
                "reach": p.reach,
                "compound": num(p.compound),
                "text": _clip(p.text, MAX_POST_CHARS),
            }
            for p in posts
        ],
        "post_ids": list(ev.post_ids[:MAX_POST_IDS]),
    }
    if len(ev.post_ids) > MAX_POST_IDS:
        out["post_ids_total"] = len(ev.post_ids)
    if ev.detail:
        out["detail"] = ev.detail
    return out


def _headline(alert: Alert) -> str:
    ev = alert.evidence
    return (
        f"{human_number(ev.value)} vs baseline {human_number(ev.baseline)} "
        f"(score {human_number(ev.score)}, fires at {human_number(ev.threshold)})"
    )


def alert_summary(alert: Alert) -> str:
    """One line about one alert: "nordair: volume_spike 120 vs baseline 20 (score 6.2, fires at 5)"."""
    return f"{alert.labels.get('brand', '?')}: {alert.labels.get('alertname', 'alert')} {_headline(alert)}"


# ---- Alertmanager webhook v4 ---------------------------------------------------------------------------------


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first, *rest = maps
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in rest)}


def alert_annotations(alert: Alert, external_url: str) -> dict[str, str]:
    """The annotations of one alert in the Alertmanager body: lytte's evidence as strings, under the alert's own.

    Scenario: an alert without annotations, value 120, baseline 20, score 6.25 -> {"summary": "nordair:
    volume_spike 120 vs baseline 20 (score 6.25, fires at 5)", "description": "...", "evidence": '{"window_start":
    ...}', "value": "120", "baseline": "20", "score": "6.25", ..., "dashboard_url": ".../?brand=nordair"}; an alert
    whose engine set `summary` keeps that summary.
    """
    ev = alert.evidence
    derived = {
        "summary": alert_summary(alert),
        "description": (
            f"{_AMPLIFICATION[ev.amplification].capitalize()}: {ev.unique_authors} unique authors, "
            f"{ev.repost_share:.0%} reposts, {rfc3339(ev.window_start)} to {rfc3339(ev.window_end)}"
            + (f". {ev.detail}" if ev.detail else "")
        ),
        "evidence": orjson.dumps(evidence_dict(alert)).decode(),
        "value": exact_number(ev.value),
        "baseline": exact_number(ev.baseline),
        "score": exact_number(ev.score),
        "threshold": exact_number(ev.threshold),
        "repost_share": exact_number(ev.repost_share),
        "unique_authors": str(ev.unique_authors),
        "amplification": ev.amplification,
        "window_start": rfc3339(ev.window_start),
        "window_end": rfc3339(ev.window_end),
        "dashboard_url": wall_url(external_url, alert.labels.get("brand")),
    }
    top = top_post(alert)
    if top is not None:
        derived["top_post_id"] = top.post_id
    return {**derived, **alert.annotations}


def alertmanager_v4(n: Notification, receiver: str, external_url: str) -> dict[str, Any]:
    """Prometheus Alertmanager's webhook body, version 4.

    Scenario: a notification of two firing alerts of brand nordair (volume_spike warning, negative_surge critical)
    for receiver "oncall" -> {"version": "4", "groupKey": n.group_key, "truncatedAlerts": 0, "status": "firing",
    "receiver": "oncall", "groupLabels": {"brand": "nordair"}, "commonLabels": {"brand": "nordair"},
    "commonAnnotations": {...the annotations equal in both...}, "externalURL": external_url, "alerts": [{"status":
    "firing", "labels": {...}, "annotations": {...}, "startsAt": "2024-03-01T12:00:00Z", "endsAt":
    "0001-01-01T00:00:00Z", "generatorURL": ".../alerts?fingerprint=...", "fingerprint": "..."}, ...]}; the alerts
    in the notification's order.
    """
    alerts = []
    for a in n.alerts:
        ends = rfc3339(a.ends_at) if a.status == AlertStatus.RESOLVED and a.ends_at is not None else ZERO_TIME
        alerts.append(
            {
                "status": a.status.value,
                "labels": dict(a.labels),
                "annotations": alert_annotations(a, external_url),
                "startsAt": rfc3339(a.starts_at),
                "endsAt": ends,
                "generatorURL": generator_url(external_url, a.fingerprint),
                "fingerprint": a.fingerprint,
            }
        )
    return {
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": n.truncated_alerts,
        "status": group_status(n).value,
        "receiver": receiver,
        "groupLabels": dict(n.group_labels),
        "commonLabels": _common([x["labels"] for x in alerts]),
        "commonAnnotations": _common([x["annotations"] for x in alerts]),
        "externalURL": external_url,
        "alerts": alerts,
    }


# ---- Slack ---------------------------------------------------------------------------------------------------

#: every "://", whatever precedes it: a scheme after a word character ("_https://", "1http://") has no word
#: boundary before it, so matching schemes missed those
_URL_SCHEME = re.compile(r"://")


def slack_escape(text: str) -> str:
    """Slack's three control characters as entities (Slack: "Escaping text"): "a <b> & c" -> "a &lt;b&gt; &amp; c"."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_untrusted(text: str, limit: int) -> str:
    """Untrusted text (a post, a handle) for a Slack mrkdwn object: one line, clipped to `limit` characters before
    escaping (so that no entity is cut), URL schemes defanged so that nothing reads as a link.

    Scenario: "see <https://x.io|free> & more\\nhttps://evil.example" -> "see &lt;https[:]//x.io|free&gt; &amp; more
    https[:]//evil.example".
    """
    return slack_escape(_URL_SCHEME.sub("[:]//", _clip(_one_line(text), limit)))


def _mrkdwn(text: str) -> dict[str, Any]:
    # verbatim: Slack does not turn URLs, channel names or @here into links or mentions on its own
    return {"type": "mrkdwn", "text": _clip(text, SLACK_SECTION_CHARS), "verbatim": True}


def _hhmm(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _slack_alert_section(alert: Alert) -> dict[str, Any]:
    ev = alert.evidence
    name = slack_escape(alert.labels.get("alertname", "alert"))
    if alert.status == AlertStatus.FIRING:
        head = (
            f"{_SEVERITY_EMOJI[_severity(alert)]} *{name}* ({_severity(alert).value}), since {_hhmm(alert.starts_at)}"
        )
    else:
        ended = f" at {_hhmm(alert.ends_at)}" if alert.ends_at else ""
        head = f"{_RESOLVED_EMOJI} *{name}* resolved{ended}"
    lines = [
        head,
        f"Value *{human_number(ev.value)}* vs baseline {human_number(ev.baseline)}: score {human_number(ev.score)}"
        f" (fires at {human_number(ev.threshold)})",
        f"{_AMPLIFICATION[ev.amplification].capitalize()}: {ev.unique_authors:,} unique authors, "
        f"{ev.repost_share:.0%} reposts",
    ]
    extra = {k: v for k, v in alert.labels.items() if k not in ("alertname", "brand", "severity")}
    if extra:
        lines.append(", ".join(f"{slack_escape(k)}={slack_untrusted(v, 100)}" for k, v in sorted(extra.items())))
    if ev.detail:
        lines.append(f"_{slack_untrusted(ev.detail, 300)}_")
    top = top_post(alert)
    if top is not None:
        lines.append(
            f"Top post (reach {top.reach:,}) by @{slack_untrusted(top.author_handle, 60)}:\n"
            f">{slack_untrusted(top.text, SLACK_POST_CHARS)}"
        )
    return {"type": "section", "text": _mrkdwn("\n".join(lines))}


def slack_message(n: Notification, external_url: str) -> dict[str, Any]:
    """A Slack incoming-webhook message: a fallback `text` and Block Kit `blocks`.

    Scenario: nordair, negative_surge (critical) and volume_spike (warning) firing, 2 more truncated -> text
    "🔴 FIRING nordair: negative_surge, volume_spike (4 alerts)"; blocks: a header "🔴 nordair: negative_surge,
    volume_spike", one section per alert (at most 5; critical first) with value vs baseline, score, amplification
    and the top post as escaped plain text, a section "…and 2 more", a context line (incident, alert count) and
    an "Open the wall" button to `{external_url}/?brand=nordair`. The same group resolved -> "✅ Resolved: ...".
    """
    status = group_status(n)
    brand = _one_brand(n)
    brands = ", ".join(_brands(n)) or "lytte"
    names = ", ".join(_alertnames(n)) or "alerts"
    total = len(n.alerts) + n.truncated_alerts
    if status == AlertStatus.FIRING:
        emoji = _SEVERITY_EMOJI[group_severity(n)]
        header = f"{emoji} {brands}: {names}"
        text = f"{emoji} FIRING {brands}: {names} ({total} alert{'s' if total != 1 else ''})"
    else:
        header = f"{_RESOLVED_EMOJI} Resolved: {brands}: {names}"
        text = f"{_RESOLVED_EMOJI} RESOLVED {brands}: {names}"

    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(header, SLACK_HEADER_CHARS), "emoji": True}}
    ]
    shown = ordered_alerts(n)[:SLACK_MAX_ALERTS]
    blocks.extend(_slack_alert_section(a) for a in shown)
    more = total - len(shown)
    if more > 0:
        blocks.append({"type": "section", "text": _mrkdwn(f"…and {more} more alert{'s' if more != 1 else ''}")})

    context = [f"lytte · {total} alert{'s' if total != 1 else ''}"]
    if n.incident:
        context.append(f"incident {slack_escape(n.incident)}")
    context.append(f"sent {_hhmm(n.created_at)}")
    blocks.append({"type": "context", "elements": [_mrkdwn(" · ".join(context))]})
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": _clip("Open the wall", SLACK_BUTTON_CHARS), "emoji": True},
                    "url": wall_url(external_url, brand),
                    "action_id": "open_wall",
                }
            ],
        }
    )
    return {
        "text": _clip(slack_escape(text), SLACK_SECTION_CHARS),
        "blocks": blocks[:SLACK_MAX_BLOCKS],
        "unfurl_links": False,
        "unfurl_media": False,
    }


# ---- PagerDuty Events API v2 ---------------------------------------------------------------------------------


def dedup_key(n: Notification) -> str:
    """PagerDuty's dedup key: the incident when there is one, else the group key; the same for trigger and resolve.
    A key over PagerDuty's 255 characters is replaced by a stable hash of it ("lytte:" + 64 hex digits)."""
    import hashlib

    key = n.incident or n.group_key
    if len(key) > PD_DEDUP_KEY_CHARS:
        key = "lytte:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def pagerduty_event(n: Notification, routing_key: str, external_url: str) -> dict[str, Any]:
    """A PagerDuty Events API v2 event.

    Scenario: nordair's incident "nordair:1709294400" with negative_surge (critical) firing -> {"routing_key": key,
    "event_action": "trigger", "dedup_key": "nordair:1709294400", "payload": {"summary": "nordair: negative_surge
    41 vs baseline 6 (score 7.5, fires at 5)", "severity": "critical", "source": "lytte", "timestamp":
    "2024-03-01T12:00:00Z", "component": "nordair", "group": "negative_surge", "class": "negative_surge",
    "custom_details": {"alerts": [{"fingerprint": ..., "labels": ..., "evidence": ...}], ...}}, "links": [{"href":
    ".../?brand=nordair", "text": "nordair on the lytte wall"}, ...], "client": "lytte", "client_url": ...}.
    The same group resolved -> {"routing_key": key, "event_action": "resolve", "dedup_key": "nordair:1709294400"}.
    """
    key = dedup_key(n)
    if group_status(n) == AlertStatus.RESOLVED:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": key}
    alerts = ordered_alerts(n)
    lead = alerts[0] if alerts else None
    brand = _one_brand(n)
    if lead is not None:
        summary = alert_summary(lead)
        others = len(n.alerts) + n.truncated_alerts - 1
        if others > 0:
            summary += f" (+{others} more)"
    else:
        summary = f"{brand or 'lytte'}: alerts firing"
    details: dict[str, Any] = {
        "alerts": [
            {
                "fingerprint": a.fingerprint,
                "status": a.status.value,
                "labels": dict(a.labels),
                "starts_at": rfc3339(a.starts_at),
                "evidence": evidence_dict(a),
                "url": generator_url(external_url, a.fingerprint),
            }
            for a in alerts
        ],
        "group_key": n.group_key,
        "group_labels": dict(n.group_labels),
        "truncated_alerts": n.truncated_alerts,
    }
    if n.incident:
        details["incident"] = n.incident
    payload: dict[str, Any] = {
        "summary": _clip(_one_line(summary), PD_SUMMARY_CHARS),
        "severity": _PD_SEVERITY[group_severity(n)],
        "source": "lytte",
        "component": ", ".join(_brands(n)) or "lytte",
        "group": ", ".join(_alertnames(n)),
        "class": lead.labels.get("alertname", "alert") if lead is not None else "alert",
        "custom_details": details,
    }
    if lead is not None:
        payload["timestamp"] = rfc3339(lead.starts_at)
    links = [{"href": wall_url(external_url, brand), "text": f"{brand or 'lytte'} on the lytte wall"}]
    if lead is not None:
        links.append({"href": generator_url(external_url, lead.fingerprint), "text": f"alert {lead.fingerprint}"})
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": payload,
        "links": links,
        "client": "lytte",
        "client_url": wall_url(external_url, brand),
    }


# ---- by receiver ---------------------------------------------------------------------------------------------


def body_for(receiver: Receiver, n: Notification, external_url: str) -> tuple[bytes, dict[str, str]]:
    """The request body and its content type for one receiver.

    Scenario: Receiver(type="webhook", name="oncall") -> (Alertmanager v4 JSON bytes with "receiver": "oncall",
    {"content-type": "application/json"}); type "slack" -> the Slack message; type "pagerduty" -> the Events v2
    event with the receiver's routing key (read from its environment variable or file, so this may raise the
    ValueError of `Receiver.routing_key` when it is not set).
    """
    if receiver.type == "webhook":
        body = alertmanager_v4(n, receiver.name, external_url)
    elif receiver.type == "slack":
        body = slack_message(n, external_url)
    elif receiver.type == "pagerduty":
        body = pagerduty_event(n, receiver.routing_key(), external_url)
    else:  # pragma: no cover - Receiver.type is a Literal
        raise ValueError(f"unknown receiver type {receiver.type!r}")
    return orjson.dumps(body), {"content-type": JSON_CONTENT_TYPE}
