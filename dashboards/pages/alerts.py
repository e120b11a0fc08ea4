"""The alert console: firing alerts, incidents, recent history, silences in force and the receivers' delivery
status in grids, the evidence of the selected alert, and the operators' actions (acknowledge, resolve, silence,
expire a silence).

Live: a change notice that says alerts changed (the shell's live tick, pushed by server-sent events) reloads the
grids from Redis within a second; a 10 s interval is the fallback. The grids key their rows (`getRowId`), so a
reload changes rows in place and keeps the selection.

Actions: every action callback asks `auth.require("operator")` before it reads or writes anything (a viewer's
buttons are disabled too, but the server's check is what counts); the action, with the user's name as `by`, is
written to the actions topic with a bounded wait, and shows on every open console once the alert engine has
applied it. A refusal or a Kafka failure is a message on the page, never a traceback.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

import dash
import redis
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html
from dash.exceptions import PreventUpdate

from dashboards import alerts_data, auth, ids, live
from dashboards import console_ids as cid
from dashboards.components import alerts as parts

log = logging.getLogger(__name__)

#: the fallback refresh, when a push was missed
SLOW_MS = 10_000


def layout(**_query) -> html.Div:
    """Built per request: a viewer's action buttons are disabled (the callbacks check again)."""
    user = auth.current_user()
    can_act = user is not None and user.can("operator")
    off = not can_act
    who = "" if can_act else "Read only: acknowledging, resolving and silencing need the operator role."
    return html.Div(
        [
            dcc.Store(id=cid.ALERTS_TICK),
            dcc.Store(id=cid.SELECTED),
            dcc.Store(id=cid.SHOWN),
            dcc.Interval(id=cid.ALERTS_SLOW, interval=SLOW_MS),
            html.Header(
                [
                    html.H1("Alert console"),
                    html.Div(id=cid.ALERTS_STATUS, className="alerts-status"),
                    html.Div(who, className="alerts-readonly") if who else None,
                ],
                className="alerts-header",
            ),
            html.Div(id=cid.ALERTS_MESSAGE, className="alerts-message", role="status", **{"aria-live": "polite"}),
            html.Div(
                [
                    html.Section(
                        [
                            html.H2("Firing"),
                            parts.grid(cid.FIRING_GRID, parts.FIRING_COLUMNS, "nothing is firing"),
                            html.Div(
                                [
                                    dcc.Input(
                                        id=cid.NOTE,
                                        type="text",
                                        placeholder="note for acknowledge / resolve (optional)",
                                        maxLength=500,
                                        className="alerts-input alerts-note",
                                        debounce=False,
                                    ),
                                    _button(cid.ACK_ALERT, "Acknowledge alert", off),
                                    _button(cid.RESOLVE_ALERT, "Resolve alert", off, "danger"),
                                ],
                                className="alerts-actions",
                            ),
                            html.H2("Incidents"),
                            parts.grid(cid.INCIDENTS_GRID, parts.INCIDENT_COLUMNS, "no incidents"),
                            html.Div(
                                [
                                    _button(cid.ACK_INCIDENT, "Acknowledge incident", off),
                                    _button(cid.RESOLVE_INCIDENT, "Resolve incident", off, "danger"),
                                ],
                                className="alerts-actions",
                            ),
                            html.H2("Recent history"),
                            parts.grid(cid.HISTORY_GRID, parts.HISTORY_COLUMNS, "no alert has fired yet", height=360),
                            html.H2("Silences in force"),
                            parts.grid(cid.SILENCES_GRID, parts.SILENCE_COLUMNS, "no silence in force"),
                            html.Div([_button(cid.EXPIRE_SILENCE, "Expire silence", off)], className="alerts-actions"),
                        ],
                        className="alerts-grids",
                    ),
                    html.Aside(
                        [
                            html.H2("Evidence"),
                            html.Div(parts.evidence_panel(None, False), id=cid.EVIDENCE),
                            html.H2("Silence"),
                            html.Div(
                                [
                                    html.Label(
                                        "Matchers, one a line (NAME=VALUE, !=, =~, !~)", htmlFor=cid.SILENCE_MATCHERS
                                    ),
                                    dcc.Textarea(
                                        id=cid.SILENCE_MATCHERS,
                                        placeholder="brand=nordair\nalertname=volume_spike",
                                        className="alerts-input alerts-matchers",
                                    ),
                                    html.Label("For (30m, 2h, 1d)", htmlFor=cid.SILENCE_DURATION),
                                    dcc.Input(
                                        id=cid.SILENCE_DURATION, type="text", value="2h", className="alerts-input"
                                    ),
                                    html.Label("Reason (required)", htmlFor=cid.SILENCE_REASON),
                                    dcc.Input(
                                        id=cid.SILENCE_REASON,
                                        type="text",
                                        maxLength=500,
                                        placeholder="why: known outage, campaign launch, ...",
                                        className="alerts-input",
                                    ),
                                    _button(cid.SILENCE, "Silence", off),
                                ],
                                className="alerts-form",
                            ),
                        ],
                        className="alerts-side",
                    ),
                ],
                className="alerts-main",
            ),
            html.Section(
                [
                    html.H2("Receivers: delivery status"),
                    parts.grid(cid.RECEIVERS_GRID, parts.RECEIVER_COLUMNS, "no delivery yet", select=False),
                ],
                className="alerts-receivers",
            ),
        ],
        className="alerts-page",
    )


def _button(button_id: str, text: str, disabled: bool, tone: str = "") -> html.Button:
    return html.Button(
        text, id=button_id, n_clicks=0, disabled=disabled, className=f"alerts-button alerts-button--{tone or 'plain'}"
    )


dash.register_page(__name__, path="/alerts", title="lytte — alerts", name="Alerts", layout=layout)


# Only notices that say alerts changed reload the grids: the wall's brand notices (up to 4 a second) stay in the
# browser. A new number each time, so that two equal notices in a row both count.
clientside_callback(
    """function (tick) {
        var skip = window.dash_clientside.no_update;
        if (!tick) { return skip; }
        try { return JSON.parse(tick).alerts ? Date.now() : skip; } catch (e) { return skip; }
    }""",
    Output(cid.ALERTS_TICK, "data"),
    Input(ids.LIVE_TICK, "data"),
)


@callback(
    Output(cid.FIRING_GRID, "rowData"),
    Output(cid.INCIDENTS_GRID, "rowData"),
    Output(cid.HISTORY_GRID, "rowData"),
    Output(cid.SILENCES_GRID, "rowData"),
    Output(cid.RECEIVERS_GRID, "rowData"),
    Output(cid.ALERTS_STATUS, "children"),
    Input(cid.ALERTS_TICK, "data"),
    Input(cid.ALERTS_SLOW, "n_intervals"),
)
def refresh(_tick, _n):
    now = datetime.now(UTC)
    try:
        console = alerts_data.read_console(live.get(), now)
    except redis.RedisError as exc:
        line = html.Span(
            f"Redis unreachable: the console is not updating ({type(exc).__name__})",
            className="alerts-read alerts-read--down",
        )
        return (dash.no_update,) * 5 + (line,)
    return (
        parts.firing_rows(console),
        parts.incident_rows(console),
        parts.history_rows(console),
        parts.silence_rows(console),
        parts.receiver_rows(console),
        status_line(console),
    )


def status_line(console: alerts_data.ConsoleView) -> html.Span:
    """ "2 firing · 1 open incident · 1 silence in force · read 12:00:05 UTC" (+ unreadable records, if any)."""
    open_ = sum(1 for i in console.incidents if i.status != "resolved")
    text = (
        f"{len(console.firing)} firing · {open_} open incident{'s' if open_ != 1 else ''} · "
        f"{len(console.silences)} silence{'s' if len(console.silences) != 1 else ''} in force · "
        f"read {console.read_at:%H:%M:%S} UTC"
    )
    if console.skipped:
        text += f" · {console.skipped} unreadable record{'s' if console.skipped != 1 else ''} skipped"
    return html.Span(text, className=f"alerts-read alerts-read--{'partial' if console.skipped else 'ok'}")


@callback(
    Output(cid.SELECTED, "data"),
    Output(cid.SILENCE_MATCHERS, "value"),
    Input(cid.FIRING_GRID, "selectedRows"),
    Input(cid.HISTORY_GRID, "selectedRows"),
    State(cid.SELECTED, "data"),
    prevent_initial_call=True,
)
def select(firing, history, selected):
    """A row picked in the firing or history grid becomes the alert the evidence panel shows, and its labels fill
    the silence form. The same row again (a reload keeps the selection) changes nothing, so what the operator
    typed stays."""
    rows = firing if ctx.triggered_id == cid.FIRING_GRID else history
    if not rows or not isinstance(rows, list):
        raise PreventUpdate
    row = rows[0]
    picked = {"kind": row.get("kind"), "id": row.get("id")}
    if picked == selected:
        raise PreventUpdate
    return picked, alerts_data.matchers_text(row.get("labels") or {})


@callback(
    Output(cid.EVIDENCE, "children"),
    Output(cid.SHOWN, "data"),
    Input(cid.SELECTED, "data"),
    Input(cid.FIRING_GRID, "rowData"),
    State(cid.SHOWN, "data"),
)
def show_evidence(selected, firing_rows, shown):
    """The selected alert's evidence, drawn again only when the alert, its ack or its silence changed."""
    if not selected or not selected.get("id"):
        raise PreventUpdate
    try:
        alert, firing = alerts_data.find_alert(live.get(), str(selected.get("kind")), str(selected["id"]))
    except redis.RedisError:
        raise PreventUpdate from None
    row = None
    if alert is not None and firing:
        row = next((r for r in firing_rows or [] if r.get("id") == alert.fingerprint), None)
    facts = [alert.model_dump_json() if alert else "", str(firing)]
    if row:
        facts += [row.get("acked_by", ""), row.get("acked_at", ""), row.get("silenced", "")]
    digest = hashlib.sha256("\x00".join(facts).encode()).hexdigest()
    if digest == shown:
        raise PreventUpdate
    if alert is None:
        return html.P(
            "That alert is no longer in the view (Redis keeps the newest transitions).", className="ev-hint"
        ), digest
    return parts.evidence_panel(alert, firing, row), digest


# ---- actions ------------------------------------------------------------------------------------------------

VERBS = {
    cid.ACK_ALERT: "acknowledge an alert",
    cid.RESOLVE_ALERT: "resolve an alert",
    cid.ACK_INCIDENT: "acknowledge an incident",
    cid.RESOLVE_INCIDENT: "resolve an incident",
    cid.SILENCE: "silence alerts",
    cid.EXPIRE_SILENCE: "expire a silence",
}


@callback(
    Output(cid.ALERTS_MESSAGE, "children"),
    Input(cid.ACK_ALERT, "n_clicks"),
    Input(cid.RESOLVE_ALERT, "n_clicks"),
    Input(cid.ACK_INCIDENT, "n_clicks"),
    Input(cid.RESOLVE_INCIDENT, "n_clicks"),
    Input(cid.SILENCE, "n_clicks"),
    Input(cid.EXPIRE_SILENCE, "n_clicks"),
    State(cid.FIRING_GRID, "selectedRows"),
    State(cid.INCIDENTS_GRID, "selectedRows"),
    State(cid.SILENCES_GRID, "selectedRows"),
    State(cid.NOTE, "value"),
    State(cid.SILENCE_MATCHERS, "value"),
    State(cid.SILENCE_DURATION, "value"),
    State(cid.SILENCE_REASON, "value"),
    prevent_initial_call=True,
)
def act(
    _ack, _resolve, _ack_i, _resolve_i, _silence, _expire, firing, incidents, silences, note, matchers, duration, reason
):
    trigger = ctx.triggered_id
    verb = VERBS.get(trigger)
    if verb is None:
        raise PreventUpdate
    # Who may act is decided here, on the server, before anything is read or written.
    try:
        user = auth.require("operator")
    except auth.NotAllowed:
        return refusal(verb, auth.current_user())
    now = datetime.now(UTC)
    try:
        board = alerts_data.read_console(live.get(), now).board
        action, done = make_action(
            trigger, board, user.name, now, firing, incidents, silences, note, matchers, duration, reason
        )
    except alerts_data.ActionRefused as exc:
        return message(f"Not done: {exc}. Nothing was written.", "refused", now)
    except redis.RedisError as exc:
        return message(
            f"Not done: Redis is unreachable, so the target cannot be checked ({type(exc).__name__}).", "error", now
        )
    try:
        alerts_data.writer().write(action)
    except alerts_data.ActionNotWritten as exc:
        if not exc.maybe_sent:
            return message(f"Not written: Kafka is unreachable ({exc}). Try again when it is back.", "error", now)
        return message(
            f"Not confirmed: Kafka did not confirm the action within {alerts_data.ActionWriter.TIMEOUT_S:.0f} s "
            f"({exc}). It may still apply: check the grids before trying again.",
            "error",
            now,
        )
    except Exception as exc:  # settings or client trouble: a message for the operator, the details in the log
        log.exception("alert console: action %s not written", action.id)
        return message(f"Not written: {type(exc).__name__}. The dashboard's log has the details.", "error", now)
    return message(f"{done} as {user.name}. It shows on every console once the alert engine applies it.", "ok", now)


def make_action(trigger, board, by, now, firing, incidents, silences, note, matchers, duration, reason):
    """The action a button asks for, from the selected rows and the form, and the sentence that says it was done
    (raises `alerts_data.ActionRefused` when something is missing or unknown)."""
    if trigger in (cid.ACK_ALERT, cid.RESOLVE_ALERT):
        row = _selected(firing, "select a firing alert first")
        what = f"{row.get('rule', '')} · {row.get('brand', '')}"
        if trigger == cid.ACK_ALERT:
            return alerts_data.ack(str(row.get("id")), board, by, now, note or ""), f"Acknowledged {what}"
        return alerts_data.resolve(str(row.get("id")), board, by, now, note or ""), f"Resolved {what}"
    if trigger in (cid.ACK_INCIDENT, cid.RESOLVE_INCIDENT):
        row = _selected(incidents, "select an incident first")
        target = str(row.get("id"))
        if trigger == cid.ACK_INCIDENT:
            return alerts_data.ack(target, board, by, now, note or ""), f"Acknowledged incident {target}"
        return alerts_data.resolve(target, board, by, now, note or ""), f"Resolved incident {target}"
    if trigger == cid.SILENCE:
        action = alerts_data.silence(matchers or "", duration or "", reason or "", by, now)
        s = action.silence
        return action, f"Silenced {parts.matchers_label(s)} until {parts.utc(s.ends_at)} UTC"
    row = _selected(silences, "select a silence first")
    return alerts_data.expire(str(row.get("id")), board, by, now), f"Expired silence {row.get('id')}"


def _selected(rows, missing: str) -> dict:
    if not rows or not isinstance(rows, list) or not isinstance(rows[0], dict):
        raise alerts_data.ActionRefused(missing)
    return rows[0]


def refusal(verb: str, user: auth.User | None) -> html.Div:
    """A viewer's (or nobody's) click: what they lack, and that nothing happened."""
    who = f"{user.name} is a {user.role}" if user is not None else "you are not signed in"
    return message(f"Refused: to {verb} you need the operator role, and {who}. Nothing was written.", "refused")


def message(text: str, tone: str, at: datetime | None = None) -> html.Div:
    at = at or datetime.now(UTC)
    return html.Div(
        [html.Span(f"{at:%H:%M:%S} UTC", className="alerts-msg-time"), text], className=f"alerts-msg alerts-msg--{tone}"
    )
