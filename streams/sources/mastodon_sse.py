"""Server-sent events as Mastodon's streaming API writes them, read incrementally from the bytes of the response.

Mastodon.py's own reader (`StreamListener.handle_stream`) reads the stream one byte per call and ends the whole
connection on the first event whose JSON does not parse; lytte reads whole chunks, hands every event on with its
data as it came (so that a bad one goes to the deadletter topic as it was) and carries on. The format is the
WHATWG one: lines ending in LF, CRLF or CR; `field: value` lines; a line starting with ":" is a comment (Mastodon's
`:thump` keep-alive); a blank line ends an event; several `data` lines join with LF.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

#: A line longer than this without an end is not an event of any real server: the stream is dropped.
MAX_LINE_BYTES = 4 * 1024 * 1024


class StreamFormatError(ValueError):
    pass


@dataclass(frozen=True)
class SseEvent:
    """One event, or a comment line (`comment` set, no event): `:thump` -> SseEvent("", "", comment="thump")."""

    event: str
    data: str
    comment: str | None = None


class SseParser:
    """Feed bytes as they arrive, get the complete events and comments.

    Scenario: feed(b"event: upd") -> []; feed(b"ate\\ndata: {\\"id\\":1}\\n\\n:thump\\n") ->
    [SseEvent("update", '{"id":1}'), SseEvent("", "", comment="thump")]."""

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[SseEvent]:
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split across two chunks
        self._pending_cr = chunk.endswith(b"\r")
        data = (self._buffer + chunk).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, self._buffer = data.split(b"\n")
        if len(self._buffer) > MAX_LINE_BYTES:
            raise StreamFormatError(f"a line of more than {MAX_LINE_BYTES} bytes")
        out = []
        for raw in lines:
            line = raw.decode("utf-8", errors="replace")
            event = self._line(line)
            if event is not None:
                out.append(event)
        return out

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            if not self._data and not self._event:
                return None
            event = SseEvent(self._event or "message", "\n".join(self._data))
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return SseEvent("", "", comment=line[1:])
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        return None  # "id" and "retry" mean nothing to a Mastodon client


def read_events(chunks: Iterable[bytes]) -> Iterator[SseEvent]:
    """Events and comments from an iterable of byte chunks (the response body as it arrives)."""
    parser = SseParser()
    for chunk in chunks:
        if chunk:
            yield from parser.feed(chunk)
