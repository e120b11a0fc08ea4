"""The health page's pieces: a state per row and per big number, clickable deadletter rows, and record values that
stay text (a string child of a <pre>, never HTML)."""

from __future__ import annotations

from dash import html

from dashboards import health_ids
from dashboards.components.health import deadletter_table, deadletter_value, figure, problems, table
from dashboards.health_model import (
    DEADLETTER_COLUMNS,
    LAG_COLUMNS,
    PREVIEW_BYTES,
    Figure,
    Row,
    Section,
    deadletter_record,
    deadletter_rows,
)

NOW = 1_795_000_000_000


def walk(component):
    """Every component under `component` (itself included)."""
    yield component
    children = getattr(component, "children", None)
    if children is None or isinstance(children, str | int | float):
        return
    for child in children if isinstance(children, list | tuple) else [children]:
        if not isinstance(child, str | int | float):
            yield from walk(child)


def texts(component) -> list[str]:
    out = []
    for c in walk(component):
        children = getattr(c, "children", None)
        if isinstance(children, str):
            out.append(children)
        elif isinstance(children, list | tuple):
            out += [x for x in children if isinstance(x, str)]
    return out


def test_a_figure_carries_its_id_state_and_value():
    card = figure(Figure("lag", "1,234", "records waiting", "warning", "consumer lag"))
    assert card.id == health_ids.figure("lag")
    assert card.className == "hfig hfig--warning"
    assert getattr(card, "data-state") == "warning" and getattr(card, "data-value") == "1,234"
    assert texts(card) == ["1,234", "records waiting", "consumer lag"]


def test_problems_say_all_healthy_or_list_the_worst_first():
    assert problems([]).children == "all healthy"
    line = problems([("bad", "Kafka unreachable since 12:00:00 UTC (40 s ago)"), ("warning", "webhook x: HTTP 503")])
    assert line.className == "hverdict hverdict--bad"
    assert [c.className for c in line.children] == ["hproblem hproblem--bad", "hproblem hproblem--warning"]


def test_a_table_has_a_state_word_and_colour_per_row_and_marks_old_figures():
    rows = [Row(("t", "0", "90", "100", "10", "w1"), "ok", {"topic": "t", "partition": "0", "lag": "10"})]
    rendered = table(LAG_COLUMNS, Section(rows, "last known figures", old=True))
    assert rendered.className == "htable-wrap htable-wrap--old"
    note, tbl = rendered.children
    assert note.className == "hnote hnote--old"
    tr = next(c for c in walk(tbl) if isinstance(c, html.Tr) and getattr(c, "className", "").startswith("hrow"))
    assert tr.className == "hrow hrow--ok"
    assert getattr(tr, "data-lag") == "10" and getattr(tr, "data-partition") == "0"
    assert [td.children for td in tr.children] == ["OK", "t", "0", "90", "100", "10", "w1"]
    empty = table(LAG_COLUMNS, Section([], "Kafka has not answered"))
    assert texts(empty) == ["Kafka has not answered"] and not any(isinstance(c, html.Table) for c in walk(empty))


def test_deadletter_rows_are_clickable_by_place_and_the_selected_one_is_marked():
    records = [deadletter_record(1, 7, NOW - 1000, [("lytte.reason", b"invalid JSON")], None, b"{")]
    records.append(deadletter_record(0, 2, NOW - 2000, [("lytte.reason", b"<b>bold</b>")], None, b"{"))
    rendered = deadletter_table(DEADLETTER_COLUMNS, Section(deadletter_rows(records, NOW)), selected="0:2")
    trs = [c for c in walk(rendered) if isinstance(c, html.Tr) and getattr(c, "id", None)]
    assert [tr.id for tr in trs] == [health_ids.deadletter_row("1:7"), health_ids.deadletter_row("0:2")]
    assert "hrow--click" in trs[0].className and "hrow--selected" not in trs[0].className
    assert "hrow--selected" in trs[1].className
    assert "<b>bold</b>" in texts(trs[1])  # a reason is text too


def test_a_deadletter_value_is_text_in_a_pre_with_notes_when_cut_or_not_utf8():
    value = b"<script>document.title='pwned'</script>\xff" + b"x" * PREVIEW_BYTES
    record = deadletter_record(
        1,
        7,
        NOW,
        [("lytte.reason", b"invalid UTF-8 at byte 40"), ("lytte.source.topic", b"lytte.posts.raw")],
        b"k",
        value,
    )
    parts = deadletter_value(record, NOW, "lytte.deadletter")
    pre = parts[-1]
    assert isinstance(pre, html.Pre) and isinstance(pre.children, str)
    assert pre.children.startswith("<script>document.title='pwned'</script>\ufffd")
    assert len(pre.children.encode()) <= PREVIEW_BYTES + 2  # the replacement character is 3 bytes for 1
    notes = texts(parts[1])
    assert any(n.startswith(f"Showing the first {PREVIEW_BYTES:,} of {len(value):,} bytes") for n in notes)
    assert any("not UTF-8" in n for n in notes)
    facts = texts(parts[0])
    assert "invalid UTF-8 at byte 40" in facts and "lytte.deadletter partition 1 offset 7" in facts


def test_a_missing_or_empty_record_is_said_plainly():
    assert "not available" in texts(html.Div(deadletter_value(None, NOW, "d")))[0]
    parts = deadletter_value(deadletter_record(0, 0, NOW, [], None, None), NOW, "d")
    assert "The record has no value." in texts(parts[1])
    assert parts[-1].children == ""
