"""A local Jetstream: a websocket server on 127.0.0.1 speaking Jetstream's wire format (from its README).

- `GET /subscribe` upgrades to a websocket; query parameters `wantedCollections` (repeatable, exact NSIDs or
  prefixes ending in `.*`; identity and account events go to everyone whatever the filter) and `cursor`
  (unix microseconds: replay every event from that time on, then the live tail; absent or in the future:
  the live tail only). `maxMessageSizeBytes` is accepted and applied.
- Every message is one JSON event: `{"did", "time_us", "kind": "commit", "commit": {"rev", "operation",
  "collection", "rkey", "record", "cid"}}`, or `kind` "identity" / "account" with their objects.

The test drives it: `publish(event)` appends to the log (connected clients get it live), `publish_raw(text)`
sends a message that is not an event, `drop_after(n)` makes the next connection break off after n messages
(the socket shut, no close frame), `refuse(status, times)` answers the next handshakes with an HTTP error.
`connections` records each connection's query parameters.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Response
from websockets.protocol import State
from websockets.sync.server import ServerConnection, serve

_clock_lock = threading.Lock()
_last_us = 0


def now_us() -> int:
    """Microseconds since the epoch, strictly increasing within this process (Jetstream's `time_us` is)."""
    global _last_us
    with _clock_lock:
        _last_us = max(_last_us + 1, time.time_ns() // 1000)
        return _last_us


def iso_time(time_us: int) -> str:
    """1725911162102000 -> "2024-09-09T19:46:02.102Z" (atproto's datetime format)."""
    return datetime.fromtimestamp(time_us / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


_rev = itertools.count(1)


def commit_event(did: str, operation: str, collection: str, rkey: str, record: dict | None, time_us: int | None = None):
    commit = {"rev": f"3l{next(_rev):011d}", "operation": operation, "collection": collection, "rkey": rkey}
    if record is not None:
        commit |= {"record": record, "cid": f"bafyrei{rkey.lower()}"}
    return {"did": did, "time_us": time_us or now_us(), "kind": "commit", "commit": commit}


def post_event(
    did: str,
    rkey: str,
    text: str,
    *,
    langs: list[str] | None = None,
    created_at: str | None = None,
    reply_to: str | None = None,
    quote: str | None = None,
    time_us: int | None = None,
) -> dict:
    """A created app.bsky.feed.post, as Jetstream sends it (createdAt: Jetstream's time unless given)."""
    time_us = time_us or now_us()
    created_at = created_at or iso_time(time_us)
    record: dict = {"$type": "app.bsky.feed.post", "text": text, "createdAt": created_at}
    if langs is not None:
        record["langs"] = langs
    if reply_to:
        ref = {"uri": reply_to, "cid": "bafyreiparent"}
        record["reply"] = {"root": ref, "parent": ref}
    if quote:
        record["embed"] = {"$type": "app.bsky.embed.record", "record": {"uri": quote, "cid": "bafyreiquoted"}}
    return commit_event(did, "create", "app.bsky.feed.post", rkey, record, time_us)


def repost_event(did: str, rkey: str, subject_uri: str, time_us: int | None = None) -> dict:
    record = {
        "$type": "app.bsky.feed.repost",
        "subject": {"uri": subject_uri, "cid": "bafyreisubject"},
        "createdAt": "2024-09-09T19:46:03.000Z",
    }
    return commit_event(did, "create", "app.bsky.feed.repost", rkey, record, time_us)


def like_event(did: str, rkey: str, subject_uri: str, time_us: int | None = None) -> dict:
    record = {"$type": "app.bsky.feed.like", "subject": {"uri": subject_uri, "cid": "bafyreisubject"}}
    return commit_event(did, "create", "app.bsky.feed.like", rkey, record, time_us)


def delete_event(did: str, rkey: str, time_us: int | None = None) -> dict:
    return commit_event(did, "delete", "app.bsky.feed.post", rkey, None, time_us)


def identity_event(did: str, handle: str, time_us: int | None = None) -> dict:
    t = time_us or now_us()
    return {
        "did": did,
        "time_us": t,
        "kind": "identity",
        "identity": {"did": did, "handle": handle, "seq": t // 1000, "time": "2024-09-05T06:11:04.870Z"},
    }


def account_event(did: str, active: bool = True, time_us: int | None = None) -> dict:
    t = time_us or now_us()
    return {
        "did": did,
        "time_us": t,
        "kind": "account",
        "account": {"active": active, "did": did, "seq": t // 1000, "time": "2024-09-05T06:11:04.870Z"},
    }


@dataclass(frozen=True)
class _Entry:
    time_us: int
    collection: str | None  # a commit's collection; None for identity, account and raw messages
    text: str


def _wanted(collection: str | None, wanted: list[str]) -> bool:
    if collection is None or not wanted:
        return True
    return any(collection == w or (w.endswith(".*") and collection.startswith(w[:-1])) for w in wanted)


class FakeJetstream:
    def __init__(self) -> None:
        self._log: list[_Entry] = []
        self._cond = threading.Condition()
        self._closed = False
        self._drop_after: int | None = None
        self._refusals: list[int] = []
        self.connections: list[dict[str, list[str]]] = []
        self._server = serve(
            self._handle, "127.0.0.1", 0, process_request=self._check_request, ping_interval=None, max_size=1 << 20
        )
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-jetstream", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/subscribe"

    # -- what a test does -----------------------------------------------------------------------------

    def publish(self, *events: dict) -> None:
        with self._cond:
            for event in events:
                collection = event.get("commit", {}).get("collection") if event.get("kind") == "commit" else None
                self._log.append(_Entry(event["time_us"], collection, json.dumps(event)))
            self._cond.notify_all()

    def publish_raw(self, text: str) -> None:
        """A message that is not (or not quite) an event; replayed with the time of the event before it."""
        with self._cond:
            t = self._log[-1].time_us if self._log else now_us()
            self._log.append(_Entry(t, None, text))
            self._cond.notify_all()

    def drop_after(self, n: int) -> None:
        """The next connection breaks off after sending n messages."""
        with self._cond:
            self._drop_after = n

    def refuse(self, status: int, times: int = 1) -> None:
        with self._cond:
            self._refusals += [status] * times

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._server.shutdown()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeJetstream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the server -----------------------------------------------------------------------------------

    def _check_request(self, connection: ServerConnection, request) -> Response | None:
        if urlsplit(request.path).path != "/subscribe":
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        with self._cond:
            if self._refusals:
                status = self._refusals.pop(0)
                return connection.respond(status, f"{HTTPStatus(status).phrase}\n")
        return None

    def _start(self, query: dict[str, list[str]]) -> int:
        cursor = query.get("cursor", [None])[0]
        if cursor is None:
            return len(self._log)
        cursor_us = int(cursor)
        return next((i for i, e in enumerate(self._log) if e.time_us >= cursor_us), len(self._log))

    def _handle(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path).query)
        wanted = query.get("wantedCollections", [])
        max_bytes = int(query.get("maxMessageSizeBytes", ["0"])[0])
        with self._cond:
            self.connections.append(query)
            position = self._start(query)
            drop_after, self._drop_after = self._drop_after, None
        sent = 0
        try:
            while True:
                with self._cond:
                    if not self._closed and position >= len(self._log):
                        self._cond.wait(timeout=0.5)
                    if self._closed or ws.state is State.CLOSED:
                        return
                    pending = self._log[position:]
                    position = len(self._log)
                for entry in pending:
                    if not _wanted(entry.collection, wanted) or (max_bytes and len(entry.text) > max_bytes):
                        continue
                    if drop_after is not None and sent >= drop_after:
                        ws.socket.shutdown(socket.SHUT_RDWR)
                        return
                    ws.send(entry.text)
                    sent += 1
        except (ConnectionClosed, OSError):
            return
