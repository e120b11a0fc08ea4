"""The alert console's pieces: rows keyed for in-place updates (with acks of the current episode and the silences
that hold an alert), receivers' delivery status, the evidence panel, and untrusted text that stays text (links
only for http and https)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dash import dcc, html
from dash.development.base_component import Component

from dashboards import alerts_data
from dashboards.components import alerts as parts
from tests.unit.dashboards.test_alerts_data import NOW, ack_of, alert, incident, silence_of

HOSTILE = '<img src=x onerror="document.title=1"> <b>bold</b> @nordair'


def console(firing=(), history=(), incidents=(), acks=(), silences=(), receivers=None) -> alerts_data.ConsoleView:
    board = alerts_data.fold_board(list(firing), list(history), list(incidents), list(acks), list(silences))
    return alerts_data.ConsoleView(
        firing=board.firing(),
        incidents=alerts_data.incidents_in_order(list(incidents)),
        history=list(history),
        silences=board.active_silences(NOW),
        receivers=receivers or {},
        board=board,
        read_at=NOW,
    )


def walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if isinstance(child, Component):
            yield from walk(child)


def texts(component) -> list[str]:
    out = []
    for c in walk(component):
        children = getattr(c, "children", None)
        out += [x for x in (children if isinstance(children, list | tuple) else [children]) if isinstance(x, str)]
    return out


# ---- formatting --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://x.com/a/status/1", True),
        ("http://example.com/p?q=1", True),
        ("HTTPS://EXAMPLE.COM/", True),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        (" https://example.com", False),
        ("java\tscript:alert(1)", False),
        ("https:evil", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("//example.com/x", False),
        ("https://exa mple.com", False),
        ("", False),
        (None, False),
    ],
)
def test_only_http_and_https_urls_become_links(url, link):
    assert (parts.safe_url(url) == url) if link else parts.safe_url(url) is None


def test_times_are_utc_and_sort_as_text():
    at = datetime(2024, 3, 1, 12, 0, 5, 500_000, tzinfo=UTC) + timedelta(hours=1)
    assert parts.utc(at.astimezone(UTC).isoformat().replace("+00:00", "+01:00")) == "2024-03-01 12:00:05"
    assert parts.utc(at) == "2024-03-01 13:00:05"
    assert parts.short(at) == "03-01 13:00:05"
    assert parts.utc(None) == parts.utc("yesterday") == ""


def test_numbers_for_people():
    assert [parts.number(x) for x in (12.0, 1234.5678, 0.5, 3)] == ["12", "1,234.57", "0.5", "3"]


# ---- rows ----------------------------------------------------------------------------------------------------


def test_firing_rows_are_keyed_by_fingerprint_with_ack_and_silence():
    a = alert()
    b = alert("key_person", severity="warning", person="ingrid_news")
    s = silence_of("person=ingrid_news")
    rows = parts.firing_rows(console([b, a], [a, b], acks=[ack_of(a, by="ana")], silences=[s]))
    assert [r["id"] for r in rows] == [a.fingerprint, b.fingerprint], "most urgent first"
    first, second = rows
    assert (first["severity"], first["brand"], first["rule"], first["summary"]) == (
        "critical",
        "nordair",
        "volume_spike",
        "nordair: volume_spike",
    )
    assert (first["acked_by"], first["acked_at"], first["silenced"]) == ("ana", "11-24 12:00:00", "")
    assert first["since"] == "11-24 11:50:00" and first["kind"] == "firing"
    assert second["acked_by"] == "" and second["silenced"] == "until 11-24 13:00:00 by ana"
    assert second["labels"] == b.labels


def test_an_incident_ack_shows_on_the_incident_and_its_alerts():
    a = alert()
    i = incident([a])
    c = console([a], [a], [i], [ack_of(i, by="ole")])
    (row,) = parts.incident_rows(c)
    assert (row["id"], row["status"], row["firing"], row["acked_by"]) == (i.id, "opened", "1 of 1", "ole")
    (alert_row,) = parts.firing_rows(c)
    assert (alert_row["acked_by"], alert_row["acked_via"]) == ("ole", i.id)


def test_history_rows_name_each_transition():
    fired = alert(at=NOW - timedelta(minutes=20))
    resolved = alert(status="resolved", at=NOW - timedelta(minutes=5)).model_copy(
        update={"annotations": {"summary": "s", "resolved_by": "ana"}}
    )
    rows = parts.history_rows(console(history=[resolved, fired]))
    assert [(r["status"], r["resolved_by"]) for r in rows] == [("resolved", "ana"), ("firing", "")]
    assert len({r["id"] for r in rows}) == 2 and rows[0]["id"] == alerts_data.history_row_id(resolved)


def test_silence_rows():
    s = silence_of("brand=nordair", "alertname=~volume.*")
    (row,) = parts.silence_rows(console(silences=[s]))
    assert row == {
        "id": s.id,
        "matchers": "brand=nordair, alertname=~volume.*",
        "starts": "11-24 11:59:00",
        "ends": "11-24 13:00:00",
        "by": "ana",
        "reason": "known outage",
    }


def test_receiver_rows_show_delivery_status():
    status = {
        "oncall": {
            "receiver": "oncall",
            "type": "webhook",
            "host": "hooks.example.com",
            "queued": 3,
            "disabled": False,
            "last_attempt_at": "2026-11-24T11:59:00+00:00",
            "last_status_code": 503,
            "last_error": "HTTP 503",
            "next_attempt_at": "2026-11-24T12:00:30+00:00",
            "delivered": 5,
            "failed": 0,
            "dead": 1,
        },
        "social": {
            "receiver": "social",
            "type": "slack",
            "queued": 0,
            "disabled": True,
            "disabled_since": "2026-11-24T10:00:00+00:00",
            "disabled_reason": "HTTP 410 Gone",
        },
    }
    oncall, social = parts.receiver_rows(console(receivers=status))
    assert (oncall["id"], oncall["state"], oncall["queued"], oncall["last_status"], oncall["last_error"]) == (
        "oncall",
        "retrying",
        3,
        "503",
        "HTTP 503",
    )
    assert (oncall["last_attempt"], oncall["next_attempt"], oncall["dead"]) == ("11-24 11:59:00", "11-24 12:00:30", 1)
    assert (oncall["last_result"], oncall["counts"]) == ("503 HTTP 503", "5 / 0 / 1")
    assert social["disabled"] is True and social["state"] == "disabled since 11-24 10:00:00: HTTP 410 Gone"
    assert (social["last_result"], social["counts"]) == ("", "0 / 0 / 0")
    assert social["last_error"] == "" and social["last_status"] == ""


# ---- grids ---------------------------------------------------------------------------------------------------


def test_grids_key_rows_and_draw_cells_as_text():
    grid = parts.grid("g", parts.FIRING_COLUMNS, "nothing")
    assert grid.getRowId == "params.data.id"
    assert grid.dashGridOptions["rowSelection"]["mode"] == "singleRow"
    assert grid.dashGridOptions["domLayout"] == "autoHeight"
    for columns in (
        parts.FIRING_COLUMNS,
        parts.INCIDENT_COLUMNS,
        parts.HISTORY_COLUMNS,
        parts.SILENCE_COLUMNS,
        parts.RECEIVER_COLUMNS,
    ):
        assert all("cellRenderer" not in c for c in columns), "AG Grid draws plain values as text"
    assert parts.grid("h", parts.HISTORY_COLUMNS, "none", height=300).style["height"] == "300px"
    assert "rowSelection" not in parts.grid("r", parts.RECEIVER_COLUMNS, "none", select=False).dashGridOptions


# ---- evidence ------------------------------------------------------------------------------------------------


def test_the_evidence_panel_shows_what_the_rule_measured():
    a = alert()
    panel = parts.evidence_panel(a, True, {"acked_by": "ana", "acked_at": "11-24 12:00:00", "silenced": ""})
    shown = " ".join(texts(panel))
    for expected in (
        "volume_spike · nordair",
        "firing since 2026-11-24 11:50:00 UTC",
        "acknowledged by ana at 11-24 12:00:00 UTC",
        "120 vs 30.5",
        "6.25 vs 4",
        "2026-11-24 11:47:00 – 11:50:00",
        "25%",
        "42",
        "organic",
        "@ingrid_news",
        "250,000 reach",
        "x:1",
        "x:2",
        a.fingerprint,
    ):
        assert expected in shown, expected
    bars = [c for c in walk(panel) if getattr(c, "className", None) == "ev-bar"]
    assert [b.style["width"] for b in bars] == ["33%", "67%", "100%"]
    assert panel.to_plotly_json()["props"]["data-fingerprint"] == a.fingerprint


def test_a_resolved_alert_says_when_and_by_whom():
    a = alert(status="resolved", at=NOW).model_copy(update={"annotations": {"resolved_by": "ana"}})
    assert "resolved at 2026-11-24 12:00:00 UTC by ana" in texts(parts.evidence_panel(a, False))


def test_post_text_and_every_field_stay_text_and_only_safe_urls_are_links():
    hostile = alert(text=HOSTILE, url="javascript:document.title=1").model_copy(
        update={"annotations": {"summary": "<script>alert(1)</script>"}}
    )
    panel = parts.evidence_panel(hostile, True)
    (post_text,) = [c for c in walk(panel) if getattr(c, "className", None) == "ev-post-text"]
    assert post_text.children == HOSTILE, "the text is one plain string child: Dash escapes it"
    assert "<script>alert(1)</script>" in texts(panel)
    assert not [c for c in walk(panel) if isinstance(c, html.A)], "no link for a javascript: URL"
    assert not [c for c in walk(panel) if isinstance(c, dcc.Markdown | html.Iframe | html.Script)]
    assert "dangerously_allow_html" not in str(panel.to_plotly_json())

    safe = parts.evidence_panel(alert(url="https://example.com/p/1"), True)
    (link,) = [c for c in walk(safe) if isinstance(c, html.A)]
    assert (link.href, link.rel, link.target) == ("https://example.com/p/1", "noopener noreferrer", "_blank")


def test_no_alert_selected_is_a_hint():
    assert "Select an alert" in " ".join(texts(parts.evidence_panel(None, False)))


def test_long_post_id_lists_are_cut():
    many = alert().model_copy()
    many = many.model_copy(
        update={"evidence": many.evidence.model_copy(update={"post_ids": tuple(f"x:{i}" for i in range(45))})}
    )
    shown = texts(parts.post_ids(many.evidence))
    assert "x:29" in shown and "x:30" not in shown and " and 15 more" in shown
