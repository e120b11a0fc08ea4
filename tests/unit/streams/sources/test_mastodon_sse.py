"""Server-sent events as Mastodon writes them, fed in arbitrary pieces."""

from __future__ import annotations

import pytest

from streams.sources.mastodon_sse import SseEvent, SseParser, StreamFormatError, read_events

STREAM = b':)\nevent: update\ndata: {"id":"1"}\n\n:thump\nevent: delete\ndata: 1\n\n'
EXPECTED = [
    SseEvent("", "", comment=")"),
    SseEvent("update", '{"id":"1"}'),
    SseEvent("", "", comment="thump"),
    SseEvent("delete", "1"),
]


def test_whole_stream():
    assert list(read_events([STREAM])) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_any_split_gives_the_same_events(size):
    chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert list(read_events(chunks)) == EXPECTED


def test_crlf_and_cr_line_ends_even_split_between_chunks():
    events = list(read_events([b"event: update\r", b"\ndata: a\r\r", b"\n", b"data: b\r\n\r\n"]))
    assert events == [SseEvent("update", "a"), SseEvent("message", "b")]


def test_data_lines_join_and_one_space_is_dropped():
    assert list(read_events([b"data:a\ndata:  b\n\n"])) == [SseEvent("message", "a\n b")]


def test_blank_lines_without_an_event_dispatch_nothing():
    assert list(read_events([b"\n\n\nid: 4\nretry: 10\n\n"])) == []


def test_unfinished_event_waits_for_more():
    parser = SseParser()
    assert parser.feed(b"event: upd") == []
    assert parser.feed(b'ate\ndata: {"id":1}\n\n') == [SseEvent("update", '{"id":1}')]


def test_endless_line_is_refused(monkeypatch):
    monkeypatch.setattr("streams.sources.mastodon_sse.MAX_LINE_BYTES", 10)
    with pytest.raises(StreamFormatError):
        SseParser().feed(b"data: " + b"x" * 20)


def test_bad_utf8_does_not_stop_the_reader():
    [event] = read_events([b"event: update\ndata: \xff{}\n\n"])
    assert event.event == "update" and event.data.endswith("{}")
