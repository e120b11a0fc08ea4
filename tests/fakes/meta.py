"""A stand-in for Meta's webhook sender: builds Page `feed` deliveries in the documented JSON shape (Graph API,
"Webhooks for Pages" and the Page webhooks reference), signs them as Meta does, and calls the endpoint the
way Meta does (the subscription check GET, then signed POSTs).

Meta's ways kept here: the body is JSON with non-ASCII characters escaped (`\\u00f8`), and the signature
`X-Hub-Signature-256: sha256=<hex HMAC-SHA256>` is over exactly those bytes; deliveries are batched (several
entries, several changes each); `created_time` is Unix seconds; the subscription check is
`GET ?hub.mode=subscribe&hub.challenge=<number>&hub.verify_token=<token>` and expects the challenge back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
from dataclasses import dataclass

import httpx

USER_AGENT = "facebookexternalua"
TIMEOUT_S = 10.0


def sign(body: bytes, app_secret: str) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: dict) -> bytes:
    """The body as Meta sends it: compact JSON, non-ASCII escaped."""
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode()


def feed_change(
    item: str,
    verb: str = "add",
    *,
    post_id: str,
    comment_id: str | None = None,
    parent_id: str | None = None,
    message: str | None = None,
    from_id: str | None = "100200300",
    from_name: str | None = "Kari Nordmann",
    created_time: int | None = None,
    published: int | None = None,
    **extra,
) -> dict:
    """One `changes[]` element for field `feed`."""
    value: dict = {"item": item, "verb": verb, "post_id": post_id}
    if from_id is not None:
        value["from"] = {"id": from_id} | ({"name": from_name} if from_name is not None else {})
    if comment_id is not None:
        value["comment_id"] = comment_id
    if parent_id is not None:
        value["parent_id"] = parent_id
    if message is not None:
        value["message"] = message
    value["created_time"] = int(time.time()) if created_time is None else created_time
    if published is not None:
        value["published"] = published
    return {"field": "feed", "value": value | extra}


def delivery(page_id: str, *changes: dict, entry_time: int | None = None) -> dict:
    """A delivery of one page entry with these changes."""
    return {
        "object": "page",
        "entry": [
            {"id": page_id, "time": int(time.time()) if entry_time is None else entry_time, "changes": list(changes)}
        ],
    }


@dataclass
class MetaSender:
    """Calls a webhook endpoint as Meta does. `url` is the callback URL (e.g. http://127.0.0.1:8061/meta).
    `close()` when done (it keeps one HTTP client, as a sender keeps its connections)."""

    url: str
    app_secret: str
    verify_token: str

    def __post_init__(self) -> None:
        self._client = httpx.Client(timeout=TIMEOUT_S, headers={"User-Agent": USER_AGENT})

    def close(self) -> None:
        self._client.close()

    def verify(self, challenge: str | None = None, token: str | None = None, mode: str = "subscribe") -> httpx.Response:
        """The subscription check Meta makes when the callback URL is saved."""
        params = {
            "hub.mode": mode,
            "hub.challenge": challenge or str(random.randrange(10**9, 10**10)),
            "hub.verify_token": self.verify_token if token is None else token,
        }
        return self._client.get(self.url, params=params)

    def deliver(
        self, payload: dict | bytes, *, secret: str | None = None, signature: str | None = None, signed: bool = True
    ) -> httpx.Response:
        """POST a delivery signed with the app secret (or `secret`, or exactly `signature`; `signed=False`: no
        signature header at all)."""
        body = payload if isinstance(payload, bytes) else encode(payload)
        headers = {"Content-Type": "application/json"}
        if signed:
            headers["X-Hub-Signature-256"] = signature or sign(body, secret or self.app_secret)
        return self._client.post(self.url, content=body, headers=headers)


class RecordingRuntime:
    """A `SourceRuntime` stand-in for unit tests of the HTTP sources without Kafka: it records what a source
    sends, rejects and reports. `confirm=False` makes Kafka's confirmation fail (a flush that times out)."""

    def __init__(self, name: str = "meta", confirm: bool = True, max_record_bytes: int = 256 * 1024) -> None:
        from types import SimpleNamespace

        self.name = name
        self.settings = SimpleNamespace(max_record_bytes=max_record_bytes)
        self.posts: list = []
        self.rejected: list[tuple[bytes, str]] = []
        self.heartbeats = 0
        self.unmatched_count = 0
        self.states: list[tuple[str, str]] = []
        self.confirm = confirm
        self.producer = SimpleNamespace(flush=self._flush)

    def _flush(self, limit_s: float) -> None:
        if not self.confirm:
            raise RuntimeError(f"records still undelivered after {limit_s:.0f} s")

    def post(self, post) -> None:
        self.posts.append(post)

    def reject(self, payload: bytes, reason: str) -> None:
        self.rejected.append((payload, reason))

    def heartbeat(self) -> None:
        self.heartbeats += 1

    def unmatched(self, n: int = 1) -> None:
        self.unmatched_count += n

    def set_state(self, state: str, detail: str = "") -> None:
        self.states.append((state, detail))
