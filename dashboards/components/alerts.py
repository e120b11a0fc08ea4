"""The pieces of the alert console: the grids (columns and options), their rows, and the evidence panel.

Every record field is untrusted (post text, handles, labels, summaries, receiver errors): it goes into a grid
cell as a value (AG Grid draws values as text) or into the page as a plain string child (Dash escapes it). No
HTML, no markdown; a link only for an http(s) URL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import dash_ag_grid as dag
from dash import html

from dashboards.alerts_data import ConsoleView, ack_for, history_row_id, silences_for
from schemas.alerts import Alert, AlertEvidence, Silence

# ---- formatting -----------------------------------------------------------------------------------------


def utc(at: datetime | str | None) -> str:
    """A time in UTC, sortable as text: 2024-03-01T12:00:05.5+01:00 -> "2024-03-01 11:00:05"; None or a string
    that is not a time -> ""."""
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at)
        except ValueError:
            return ""
    if at is None:
        return ""
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S")


def short(at: datetime | str | None) -> str:
    """A grid's time: "2024-03-01 12:00:05" -> "03-01 12:00:05" (the year only in the evidence panel)."""
    return utc(at)[5:]


def number(x: float) -> str:
    """A measurement for people: 12.0 -> "12"; 1234.5678 -> "1,234.57"; 0.5 -> "0.5"."""
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.2f}".rstrip("0").rstrip(".")


def safe_url(url: str | None) -> str | None:
    """The URL itself when it may be a link: http or https with a host and no whitespace or control characters;
    None otherwise (a `javascript:` URL as a link was CVE-2024-21485).

    Scenario: "https://x.com/a/status/1" -> the same; "javascript:alert(1)", "https:evil", " http://x",
    "data:text/html,..." -> None."""
    if not url or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


# ---- grids ----------------------------------------------------------------------------------------------

#: the wall's colours (wall.css) for AG Grid's theming API; fonts from the page (no font downloads)
THEME = {
    "function": (
        "themeQuartz.withParams({backgroundColor: '#161b22', foregroundColor: '#e6edf3', "
        "headerBackgroundColor: '#0d1117', headerTextColor: '#8b949e', borderColor: '#30363d', "
        "accentColor: '#58a6ff', selectedRowBackgroundColor: 'rgba(88, 166, 255, 0.22)', "
        "rowHoverColor: 'rgba(88, 166, 255, 0.08)', oddRowBackgroundColor: '#161b22', "
        "fontFamily: 'inherit', fontSize: 15, headerFontSize: 14, spacing: 6, wrapperBorderRadius: 8})"
    )
}
DEFAULT_COLUMN = {"sortable": True, "resizable": True, "suppressHeaderMenuButton": True, "minWidth": 90}
SEVERITY_CLASSES = {f"sev-{s}": f"params.value === '{s}'" for s in ("critical", "warning", "info")}


def _col(field: str, header: str, **more) -> dict:
    return {"field": field, "headerName": header, **more}


def _severity() -> dict:
    return _col("severity", "Severity", cellClassRules=SEVERITY_CLASSES, minWidth=110, maxWidth=130)


FIRING_COLUMNS = [
    _severity(),
    _col("brand", "Brand", maxWidth=160),
    _col("rule", "Rule", minWidth=140, maxWidth=190),
    _col("summary", "Summary", flex=3, minWidth=220),
    _col("since", "Since (UTC)", minWidth=150, maxWidth=200),
    _col("acked_by", "Acked by", maxWidth=150),
    _col("acked_at", "Acked at (UTC)", minWidth=150, maxWidth=200),
    _col("silenced", "Silenced", flex=1),
]
INCIDENT_COLUMNS = [
    _col("status", "Status", maxWidth=120, cellClassRules={"inc-open": "params.value !== 'resolved'"}),
    _severity(),
    _col("brand", "Brand", maxWidth=160),
    _col("opened", "Opened (UTC)", minWidth=150, maxWidth=200),
    _col("updated", "Updated (UTC)", minWidth=150, maxWidth=200),
    _col("firing", "Firing", maxWidth=120),
    _col("summary", "Summary", flex=3, minWidth=200),
    _col("acked_by", "Acked by", maxWidth=150),
    _col("acked_at", "Acked at (UTC)", minWidth=150, maxWidth=200),
    _col("id", "Incident", maxWidth=220),
]
HISTORY_COLUMNS = [
    _col("at", "At (UTC)", sort="desc", minWidth=150, maxWidth=200),
    _col("status", "Status", maxWidth=120, cellClassRules={"hist-firing": "params.value === 'firing'"}),
    _severity(),
    _col("brand", "Brand", maxWidth=160),
    _col("rule", "Rule", minWidth=140, maxWidth=190),
    _col("summary", "Summary", flex=3, minWidth=220),
    _col("resolved_by", "Resolved by", maxWidth=150),
]
SILENCE_COLUMNS = [
    _col("matchers", "Matchers", flex=2, minWidth=220),
    _col("starts", "From (UTC)", minWidth=150, maxWidth=200),
    _col("ends", "Until (UTC)", sort="asc", minWidth=150, maxWidth=200),
    _col("by", "By", maxWidth=150),
    _col("reason", "Reason", flex=2),
    _col("id", "Silence", maxWidth=220),
]
RECEIVER_COLUMNS = [
    _col("receiver", "Receiver", maxWidth=180),
    _col("type", "Type", maxWidth=120),
    _col("host", "Host", minWidth=140, maxWidth=240),
    _col("state", "State", flex=2, minWidth=160, cellClassRules={"rcv-disabled": "params.data.disabled"}),
    _col("queued", "Queued", maxWidth=110),
    _col("last_attempt", "Last attempt (UTC)", minWidth=150, maxWidth=200),
    _col(
        "last_result",
        "Last result",
        flex=2,
        minWidth=160,
        cellClassRules={"rcv-error": "params.data.last_error !== ''"},
    ),
    _col("next_attempt", "Next attempt (UTC)", minWidth=150, maxWidth=200),
    _col("counts", "Delivered / failed / dead", minWidth=170, maxWidth=220),
]


def grid(grid_id: str, columns: list[dict], empty: str, height: int | None = None, select: bool = True) -> dag.AgGrid:
    """A console grid: rows keyed by their `id` (an update changes rows in place and keeps the selection), one
    row selectable by a click, the wall's dark theme; as tall as its rows unless `height` (px) is given."""
    options = {
        "theme": THEME,
        "localeText": {"noRowsToShow": empty},
        "animateRows": False,
        "suppressCellFocus": True,
        "enableCellTextSelection": True,
    }
    if select:
        options["rowSelection"] = {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True}
    if height is None:
        options["domLayout"] = "autoHeight"
    return dag.AgGrid(
        id=grid_id,
        columnDefs=columns,
        defaultColDef=DEFAULT_COLUMN,
        rowData=[],
        getRowId="params.data.id",
        dashGridOptions=options,
        columnSize="responsiveSizeToFit",
        className="alerts-grid",
        style={"height": f"{height}px" if height else None, "width": "100%"},
    )


# ---- rows -----------------------------------------------------------------------------------------------


def firing_rows(console: ConsoleView) -> list[dict]:
    """One row per firing alert, keyed by fingerprint, with who acknowledged its current episode and which
    silence holds it. Scenario: a warning key_person alert on nordair since 12:00, acked by ana at 12:03 ->
    {"id": fp, "severity": "warning", "brand": "nordair", "rule": "key_person", "since": "... 12:00:00",
    "acked_by": "ana", "acked_at": "... 12:03:00", "silenced": "", "labels": {...}, ...}."""
    rows = []
    for a in console.firing:
        acked = ack_for(a, console.board)
        silenced = silences_for(a, console.silences)
        rows.append(
            {
                "id": a.fingerprint,
                "kind": "firing",
                "severity": a.severity.value,
                "brand": a.brand,
                "rule": a.rule,
                "summary": a.annotations.get("summary", ""),
                "since": short(a.starts_at),
                "acked_by": acked.by if acked else "",
                "acked_at": short(acked.at) if acked else "",
                "acked_via": (acked.incident or "") if acked else "",
                "silenced": "; ".join(f"until {short(s.ends_at)} by {s.created_by}" for s in silenced),
                "labels": dict(a.labels),
            }
        )
    return rows


def incident_rows(console: ConsoleView) -> list[dict]:
    """One row per incident, keyed by its id. Scenario: an open nordair incident with 2 of 3 alerts firing, acked
    by ana -> {"id": "nordair:1709294400", "status": "opened", "firing": "2 of 3", "acked_by": "ana", ...}; the ack
    of a resolved incident is not shown as current."""
    rows = []
    for i in console.incidents:
        acked = console.board.acked.get(i.id) if i.status != "resolved" else None
        rows.append(
            {
                "id": i.id,
                "status": i.status,
                "severity": i.severity.value,
                "brand": i.brand,
                "opened": short(i.opened_at),
                "updated": short(i.resolved_at or i.updated_at),
                "firing": f"{len(i.firing)} of {len(i.alerts)}",
                "summary": i.summary,
                "acked_by": acked.by if acked else "",
                "acked_at": short(acked.at) if acked else "",
            }
        )
    return rows


def history_rows(console: ConsoleView) -> list[dict]:
    """One row per alert transition, newest first, keyed by `history_row_id`. Scenario: a resolved-by-hand
    transition -> {"status": "resolved", "resolved_by": "ana", ...}."""
    return [
        {
            "id": history_row_id(a),
            "kind": "history",
            "at": short(a.event_time),
            "status": a.status.value,
            "severity": a.severity.value,
            "brand": a.brand,
            "rule": a.rule,
            "summary": a.annotations.get("summary", ""),
            "resolved_by": a.annotations.get("resolved_by", ""),
            "labels": dict(a.labels),
        }
        for a in console.history
    ]


def matchers_label(s: Silence) -> str:
    """A silence's matchers on one line: "brand=nordair, alertname=~volume.*"."""
    return ", ".join(f"{m.name}{m.op}{m.value}" for m in s.matchers)


def silence_rows(console: ConsoleView) -> list[dict]:
    """One row per silence in force, keyed by its id: matchers, from, until, by, reason."""
    return [
        {
            "id": s.id,
            "matchers": matchers_label(s),
            "starts": short(s.starts_at),
            "ends": short(s.ends_at),
            "by": s.created_by,
            "reason": s.comment,
        }
        for s in console.silences
    ]


def receiver_rows(console: ConsoleView) -> list[dict]:
    """One row per receiver, keyed by its name: its delivery status as the worker last wrote it. Scenario: a
    receiver disabled by a 410 since 12:00 -> {"state": "disabled since ... 12:00:00: HTTP 410 Gone",
    "disabled": True, ...}; a healthy one -> {"state": "ok", "disabled": False, ...}."""
    rows = []
    for name, r in console.receivers.items():
        disabled = bool(r.get("disabled"))
        state = "ok"
        if disabled:
            state = f"disabled since {short(r.get('disabled_since'))}: {r.get('disabled_reason') or 'by the receiver'}"
        elif r.get("next_attempt_at"):
            state = "retrying"
        code = r.get("last_status_code")
        rows.append(
            {
                "id": name,
                "receiver": name,
                "type": str(r.get("type", "")),
                "host": str(r.get("host", "")),
                "state": state,
                "disabled": disabled,
                "queued": int(r.get("queued") or 0),
                "last_attempt": short(r.get("last_attempt_at")),
                "last_status": str(code) if code is not None else "",
                "last_error": str(r.get("last_error") or ""),
                "last_result": f"{code if code is not None else ''} {r.get('last_error') or ''}".strip(),
                "next_attempt": short(r.get("next_attempt_at")),
                "delivered": int(r.get("delivered") or 0),
                "failed": int(r.get("failed") or 0),
                "dead": int(r.get("dead") or 0),
                "counts": f"{int(r.get('delivered') or 0)} / {int(r.get('failed') or 0)} / {int(r.get('dead') or 0)}",
            }
        )
    return rows


# ---- the evidence panel -----------------------------------------------------------------------------------

POST_IDS_SHOWN = 30


def evidence_panel(alert: Alert | None, firing: bool, row: dict | None = None) -> html.Div:
    """Why an alert fired, for the operator deciding what to do: its state, value against baseline, score against
    threshold, the window and its minute buckets, repost share, unique authors, amplification, the top posts
    (author, reach, text; a link only for an http(s) URL) and the post ids. `row` is the alert's firing row (who
    acknowledged it, which silence holds it). None -> a hint to select an alert."""
    if alert is None:
        return html.Div(
            html.P("Select an alert (firing or in the history) to see its evidence.", className="ev-hint"),
            className="ev-panel ev-panel--empty",
        )
    e = alert.evidence
    state = f"firing since {utc(alert.starts_at)} UTC" if firing else _ended(alert)
    lines = [html.Span(state, className=f"ev-state ev-state--{'firing' if firing else 'resolved'}")]
    if row and row.get("acked_by"):
        via = f" (its incident {row['acked_via']})" if row.get("acked_via") else ""
        lines.append(html.Span(f"acknowledged by {row['acked_by']} at {row['acked_at']} UTC{via}", className="ev-ack"))
    if row and row.get("silenced"):
        lines.append(html.Span(f"silenced {row['silenced']}", className="ev-silenced"))
    return html.Div(
        [
            html.Div(
                [
                    html.Span(alert.severity.value, className=f"ev-sev sev-{alert.severity.value}"),
                    html.H3(f"{alert.rule} · {alert.brand}", className="ev-title"),
                ],
                className="ev-head",
            ),
            html.P(alert.annotations.get("summary", ""), className="ev-summary"),
            html.Div(lines, className="ev-lines"),
            figures(e),
            buckets(e),
            html.H4("Top posts"),
            top_posts(e),
            html.H4(f"Post ids ({len(e.post_ids)})"),
            post_ids(e),
            html.Div(
                [html.Span("labels: ", className="ev-key")]
                + [html.Code(f"{k}={v}", className="ev-label") for k, v in sorted(alert.labels.items())]
                + [html.Span(" fingerprint: ", className="ev-key"), html.Code(alert.fingerprint)],
                className="ev-labels",
            ),
        ],
        className="ev-panel",
        **{"data-fingerprint": alert.fingerprint, "data-status": "firing" if firing else alert.status.value},
    )


def _ended(alert: Alert) -> str:
    by = alert.annotations.get("resolved_by")
    when = utc(alert.ends_at or alert.event_time)
    return f"resolved at {when} UTC" + (f" by {by}" if by else "") if alert.status == "resolved" else "not firing now"


def figures(e: AlertEvidence) -> html.Dl:
    """The measured figures as term/definition pairs: value vs baseline, score vs threshold, window, repost share,
    unique authors, amplification, and the rule's own words."""
    pairs = [
        ("value vs baseline", f"{number(e.value)} vs {number(e.baseline)}"),
        ("score vs threshold", f"{number(e.score)} vs {number(e.threshold)}"),
        ("window (UTC)", window(e)),
        ("repost share", f"{e.repost_share:.0%}"),
        ("unique authors", f"{e.unique_authors:,}"),
        ("amplification", e.amplification),
    ]
    if e.detail:
        pairs.append(("detail", e.detail))
    items = []
    for term, value in pairs:
        items += [html.Dt(term), html.Dd(value)]
    return html.Dl(items, className="ev-figures")


def window(e: AlertEvidence) -> str:
    """ "2024-03-01 12:00:00 – 12:10:00" within a day; both in full across days; one time when start == end."""
    start, end = utc(e.window_start), utc(e.window_end)
    if start == end:
        return start
    return f"{start} – {end[11:] if start[:10] == end[:10] else end}"


def buckets(e: AlertEvidence) -> html.Div:
    """The window's minutes as a table with a bar per minute (posts, scaled to the busiest minute)."""
    if not e.buckets:
        return html.Div("no minute buckets for this rule (it judges single posts)", className="ev-nobuckets")
    peak = max(b.posts for b in e.buckets) or 1
    rows = [
        html.Tr(
            [
                html.Td(utc(b.start)[11:16]),
                html.Td(f"{b.posts:,}", className="num"),
                html.Td(html.Div(className="ev-bar", style={"width": f"{100 * b.posts / peak:.0f}%"}), className="bar"),
                html.Td(f"{b.reposts:,}", className="num"),
                html.Td(f"{b.negative:,}", className="num"),
                html.Td(f"{b.unique_authors:,}", className="num"),
            ]
        )
        for b in e.buckets
    ]
    head = html.Tr([html.Th(h) for h in ("min", "posts", "", "reposts", "neg", "authors")])
    return html.Div(html.Table([html.Thead(head), html.Tbody(rows)], className="ev-buckets"), className="ev-table")


def top_posts(e: AlertEvidence) -> html.Ul | html.P:
    if not e.top_posts:
        return html.P("no posts kept with this alert", className="ev-hint")
    items = []
    for p in e.top_posts:
        parts = [
            html.Span(f"@{p.author_handle}", className="ev-post-author"),
            html.Span(f"{p.reach:,} reach", className="ev-post-reach"),
            html.Span(f"{p.compound:+.2f}", className="ev-post-sentiment"),
            html.Span(p.text, className="ev-post-text"),
        ]
        link = safe_url(p.url)
        if link is not None:
            parts.append(
                html.A("open", href=link, target="_blank", rel="noopener noreferrer", className="ev-post-link")
            )
        items.append(html.Li(parts, className="ev-post", **{"data-post-id": p.post_id}))
    return html.Ul(items, className="ev-posts")


def post_ids(e: AlertEvidence) -> html.Div:
    shown = [html.Code(i, className="ev-post-id") for i in e.post_ids[:POST_IDS_SHOWN]]
    more = len(e.post_ids) - POST_IDS_SHOWN
    if more > 0:
        shown.append(html.Span(f" and {more:,} more", className="ev-hint"))
    return html.Div(shown or [html.Span("none", className="ev-hint")], className="ev-post-ids")
