"""The pieces of the health page: big numbers, the problems line, tables with a state per row, and the view of one
deadletter record. Every cell is a plain string child (Dash escapes it): record values, reasons, receiver errors
and source names are never parsed as HTML."""

from __future__ import annotations

from collections.abc import Callable

from dash import html

from dashboards import health_ids
from dashboards.health_model import PREVIEW_BYTES, DeadletterRecord, Figure, Row, Section, clock, value_preview

#: the word beside each row's colour, so that the state does not rest on colour alone
STATE_WORDS = {"ok": "OK", "warning": "WARN", "bad": "BAD"}


def figure(f: Figure) -> html.Div:
    """A big number: Figure("lag", "1,234", "records waiting", "warning") -> a card with id health-figure-lag."""
    return html.Div(
        [
            html.Div(f.value, className="hfig-value"),
            html.Div(f.label, className="hfig-label"),
            html.Div(f.note, className="hfig-note"),
        ],
        id=health_ids.figure(f.name),
        className=f"hfig hfig--{f.state}",
        **{"data-state": f.state, "data-value": f.value, "data-label": f.label},
    )


def problems(items: list[tuple[str, str]]) -> html.Div:
    """The line at the top: every problem, the worst first, or that all is well."""
    if not items:
        return html.Div("all healthy", className="hverdict hverdict--ok", **{"data-state": "ok"})
    state = items[0][0]
    return html.Div(
        [html.Div(text, className=f"hproblem hproblem--{s}") for s, text in items],
        className=f"hverdict hverdict--{state}",
        **{"data-state": state},
    )


def _row(row: Row, **extra) -> html.Tr:
    cells = [html.Td(STATE_WORDS.get(row.state, row.state), className="hcell-state")]
    cells += [html.Td(c) for c in row.cells]
    classes = f"hrow hrow--{row.state} {extra.pop('className', '')}".strip()
    return html.Tr(cells, className=classes, **{f"data-{k}": v for k, v in row.data.items()}, **extra)


def table(columns: tuple[str, ...], section: Section, row: Callable[[Row], html.Tr] = _row) -> html.Div:
    """A section's rows as a table (`row` draws each), its note over it; marked old when its figures are the last
    known ones."""
    note = html.Div(section.note, className="hnote hnote--old" if section.old else "hnote")
    if not section.rows:
        return html.Div([note], className="htable-wrap")
    head = html.Thead(html.Tr([html.Th("")] + [html.Th(c) for c in columns]))
    body = html.Tbody([row(r) for r in section.rows])
    return html.Div(
        [note, html.Table([head, body], className="htable")],
        className="htable-wrap htable-wrap--old" if section.old else "htable-wrap",
    )


def deadletter_table(columns: tuple[str, ...], section: Section, selected: str | None) -> html.Div:
    """The newest deadletters; each row can be clicked to show its record (the row's id carries its place)."""

    def row(r: Row) -> html.Tr:
        key = r.data["key"]
        return _row(
            r,
            id=health_ids.deadletter_row(key),
            n_clicks=0,
            className="hrow--click hrow--selected" if key == selected else "hrow--click",
            role="button",
            tabIndex="0",
            title="show this record",
        )

    return table(columns, section, row)


def deadletter_value(record: DeadletterRecord | None, now_ms: int, topic: str) -> list:
    """One deadletter record: where it came from, why, and its value as text in a <pre> (the first PREVIEW_BYTES;
    bytes that are not UTF-8 shown as U+FFFD). None -> a line saying it is not available."""
    if record is None:
        return [html.Div("That record is not available any more (or Kafka did not answer).", className="hnote")]
    preview = value_preview(record.head, record.size)
    origin = record.source_topic or "?"
    if record.source_partition is not None:
        origin += f" partition {record.source_partition}"
    if record.source_offset is not None:
        origin += f" offset {record.source_offset}"
    key = "(none)" if record.key is None else record.key[:200].decode("utf-8", "replace")
    facts = [
        ("record", f"{topic} partition {record.partition} offset {record.offset}"),
        ("deadlettered", clock(record.timestamp_ms, now_ms)),
        ("reason", record.reason),
        ("from", origin),
        ("key", key),
        ("size", f"{record.size:,} bytes"),
    ]
    notes = []
    if preview.empty:
        notes.append("The record has no value.")
    if preview.cut:
        notes.append(f"Showing the first {preview.shown:,} of {preview.size:,} bytes ({PREVIEW_BYTES // 1024} kB).")
    if preview.replaced:
        notes.append("Bytes that are not UTF-8 are shown as \ufffd.")
    return [
        html.Dl([part for name, value in facts for part in (html.Dt(name), html.Dd(value))], className="dl-facts"),
        html.Div([html.Div(n) for n in notes], className="dl-notes"),
        html.Pre(preview.text, className="dl-value", **{"data-key": record.key_str}),
    ]
