"""Jetstream's wire format, read: one websocket text message is one JSON event (the Jetstream README):

    {"did": "did:plc:...", "time_us": 1725911162329308, "kind": "commit",
     "commit": {"rev": "...", "operation": "create", "collection": "app.bsky.feed.post", "rkey": "3l3qo2vuowo2b",
                "record": {"$type": "app.bsky.feed.post", "text": "...", "langs": ["en"], "createdAt": "..."},
                "cid": "bafy..."}}
    {"did": "...", "time_us": ..., "kind": "identity", "identity": {"did": "...", "handle": "x.bsky.social", ...}}
    {"did": "...", "time_us": ..., "kind": "account", "account": {"active": true, "did": "...", ...}}

These functions are pure: an event in, a `JetstreamEvent` or a `Post` out, or `BadEvent` with the reason that
goes with the payload to the deadletter topic.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from schemas.records import Author, Post, PostKind, Source

POST_COLLECTION = "app.bsky.feed.post"
REPOST_COLLECTION = "app.bsky.feed.repost"
#: embeds that point at another record: a quote when that record is a post
_RECORD_EMBED = "app.bsky.embed.record"
_RECORD_WITH_MEDIA_EMBED = "app.bsky.embed.recordWithMedia"
#: atproto's record key syntax (1 to 512 characters of this set)
_RKEY = re.compile(r"^[A-Za-z0-9._:~-]{1,512}$")
_DID = re.compile(r"^did:[a-z]+:[A-Za-z0-9._:%-]{1,2000}$")
#: a createdAt further ahead of Jetstream's own time than this is a wrong client clock: Jetstream's time is used
MAX_CLOCK_AHEAD = timedelta(minutes=5)
_INVALID_HANDLE = "handle.invalid"


class BadEvent(ValueError):
    """An event the source cannot read; the message is the deadletter reason."""


@dataclass(frozen=True)
class JetstreamEvent:
    did: str
    time_us: int
    kind: str  # "commit", "identity", "account" (others are passed over)
    body: dict[str, Any]  # the object under the event's kind ("commit", "identity", ...), {} if absent


@dataclass(frozen=True)
class Commit:
    operation: str  # "create", "update", "delete"
    collection: str
    rkey: str
    record: dict[str, Any] | None


def parse_event(raw: bytes | str) -> JetstreamEvent:
    """Scenario: '{"did": "did:plc:abc", "time_us": 1725911162329308, "kind": "commit", "commit": {...}}' ->
    JetstreamEvent("did:plc:abc", 1725911162329308, "commit", {...}); 'not json' -> BadEvent("not JSON: ...");
    an event without time_us -> BadEvent("time_us: missing or not a positive integer")."""
    try:
        event = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadEvent(f"not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise BadEvent("event is not a JSON object")
    did = event.get("did")
    if not isinstance(did, str) or not _DID.match(did):
        raise BadEvent("did: missing or not a DID")
    time_us = event.get("time_us")
    if not isinstance(time_us, int) or isinstance(time_us, bool) or time_us <= 0:
        raise BadEvent("time_us: missing or not a positive integer")
    kind = event.get("kind")
    if not isinstance(kind, str):
        raise BadEvent("kind: missing or not a string")
    body = event.get(kind, {})
    if not isinstance(body, dict):
        raise BadEvent(f"{kind}: not an object")
    return JetstreamEvent(did, time_us, kind, body)


def parse_commit(event: JetstreamEvent) -> Commit:
    """Scenario: a create of app.bsky.feed.post with rkey "3l3qo2vuowo2b" -> Commit("create",
    "app.bsky.feed.post", "3l3qo2vuowo2b", {...record...}); a delete has record None; a create without a
    record object -> BadEvent."""
    c = event.body
    operation, collection, rkey = c.get("operation"), c.get("collection"), c.get("rkey")
    if not isinstance(operation, str) or not isinstance(collection, str):
        raise BadEvent("commit: operation or collection missing")
    if not isinstance(rkey, str) or not _RKEY.match(rkey):
        raise BadEvent("commit.rkey: missing or not a record key")
    record = c.get("record")
    if operation in ("create", "update") and not isinstance(record, dict):
        raise BadEvent(f"commit.record: a {operation} without a record object")
    return Commit(operation, collection, rkey, record if isinstance(record, dict) else None)


def identity_handle(event: JetstreamEvent) -> str | None:
    """The handle an identity event gives its DID, None if it gives none (or atproto's "handle.invalid").

    Scenario: {"kind": "identity", "identity": {"did": "did:plc:abc", "handle": "ingrid.bsky.social"}} ->
    "ingrid.bsky.social"; {"identity": {"did": "did:plc:abc"}} -> None."""
    handle = event.body.get("handle")
    if not isinstance(handle, str) or not handle or handle == _INVALID_HANDLE or len(handle) > 200:
        return None
    return handle.lower()


def record_uri(did: str, collection: str, rkey: str) -> str:
    """at://did:plc:abc/app.bsky.feed.post/3l3q -- the post's id on the network and our `source_id`."""
    return f"at://{did}/{collection}/{rkey}"


def post_url(did: str, rkey: str) -> str:
    """https://bsky.app/profile/did:plc:abc/post/3l3q (bsky.app takes a DID where a handle is unknown)."""
    return f"https://bsky.app/profile/{did}/post/{rkey}"


def post_text(record: dict[str, Any]) -> str:
    """A post's text; a post record without a text string is not a post we can read (BadEvent)."""
    text = record.get("text")
    if not isinstance(text, str):
        raise BadEvent("record.text: missing or not a string")
    return text


def reference(record: dict[str, Any]) -> tuple[PostKind, str | None]:
    """What a post answers or quotes. A reply (`reply.parent.uri` set) is a reply even when it also quotes;
    a post embedding another post (`app.bsky.embed.record`, or `recordWithMedia`'s inner record) is a quote;
    an embedded list, feed or starter pack is not a quote.

    Scenarios: {"reply": {"parent": {"uri": "at://a/app.bsky.feed.post/1"}}} -> (reply, "at://a/..../1");
    {"embed": {"$type": "app.bsky.embed.record", "record": {"uri": "at://b/app.bsky.feed.post/2"}}} ->
    (quote, "at://b/app.bsky.feed.post/2"); {"text": "hi"} -> (original, None)."""
    reply = record.get("reply")
    if isinstance(reply, dict):
        parent = reply.get("parent")
        uri = parent.get("uri") if isinstance(parent, dict) else None
        return PostKind.REPLY, uri if isinstance(uri, str) and len(uri) <= 200 else None
    embed = record.get("embed")
    if isinstance(embed, dict):
        inner = embed.get("record")
        if embed.get("$type") == _RECORD_WITH_MEDIA_EMBED and isinstance(inner, dict):
            inner = inner.get("record")
        if embed.get("$type") in (_RECORD_EMBED, _RECORD_WITH_MEDIA_EMBED) and isinstance(inner, dict):
            uri = inner.get("uri")
            if isinstance(uri, str) and f"/{POST_COLLECTION}/" in uri and len(uri) <= 200:
                return PostKind.QUOTE, uri
    return PostKind.ORIGINAL, None


def language(record: dict[str, Any]) -> str | None:
    """The first of the post's `langs` (BCP-47, as the author's client set them): ["pt-BR", "en"] -> "pt-BR";
    none, or not a short string -> None."""
    langs = record.get("langs")
    if isinstance(langs, list) and langs and isinstance(langs[0], str) and 0 < len(langs[0]) <= 16:
        return langs[0]
    return None


def event_time(time_us: int) -> datetime:
    return datetime.fromtimestamp(time_us / 1_000_000, UTC)


def created_at(record: dict[str, Any], time_us: int) -> datetime:
    """The record's `createdAt` (client-set), in UTC; Jetstream's own time when it is missing, unreadable, has
    no offset, or is more than 5 minutes ahead of Jetstream's time (a wrong client clock).

    Scenarios (time_us = 2024-09-09T19:46:02Z): "2024-09-09T19:46:01.102Z" -> 19:46:01.102 UTC;
    "2030-01-01T00:00:00Z" -> 19:46:02; "yesterday" -> 19:46:02."""
    seen = event_time(time_us)
    value = record.get("createdAt")
    if not isinstance(value, str):
        return seen
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        return seen
    if when.tzinfo is None or when.utcoffset() is None:
        return seen
    when = when.astimezone(UTC)
    return seen if when - seen > MAX_CLOCK_AHEAD else when


def author(did: str, handle: str | None) -> Author:
    """The DID is the author's id; the handle when known, else the DID (Bluesky links work with either)."""
    return Author(id=did, handle=handle or did)


def to_post(did: str, commit: Commit, time_us: int, handle: str | None) -> Post:
    """A created app.bsky.feed.post as a Post.

    Scenario: did "did:plc:abc", rkey "3l3q", record {"text": "Delayed again @nordair", "langs": ["en"],
    "createdAt": "2024-09-09T19:46:01Z"}, handle "ingrid.bsky.social" -> Post(source=bluesky,
    source_id="at://did:plc:abc/app.bsky.feed.post/3l3q", author=Author(id="did:plc:abc",
    handle="ingrid.bsky.social"), text=..., language="en", kind=original,
    url="https://bsky.app/profile/did:plc:abc/post/3l3q"). A record the Post schema refuses -> BadEvent."""
    record = commit.record or {}
    kind, referenced_id = reference(record)
    try:
        return Post(
            source=Source.BLUESKY,
            source_id=record_uri(did, POST_COLLECTION, commit.rkey),
            created_at=created_at(record, time_us),
            text=post_text(record),
            language=language(record),
            author=author(did, handle),
            kind=kind,
            referenced_id=referenced_id,
            url=post_url(did, commit.rkey),
        )
    except ValidationError as exc:
        raise BadEvent(f"not a valid post: {_first_error(exc)}") from None


def repost_subject(record: dict[str, Any]) -> str | None:
    """The at-uri a repost record reposts: {"subject": {"uri": "at://a/app.bsky.feed.post/1", "cid": ...}} ->
    "at://a/app.bsky.feed.post/1"; anything else -> None."""
    subject = record.get("subject")
    uri = subject.get("uri") if isinstance(subject, dict) else None
    return uri if isinstance(uri, str) else None


def to_repost(did: str, commit: Commit, time_us: int, handle: str | None, original: Post) -> Post:
    """A repost of a post we sent, as a Post of kind repost carrying the original's text (as X's "RT" does),
    so the worker matches it to the same brands and the viral rule counts it against the original.

    Scenario: did:plc:rt reposts at://did:plc:abc/app.bsky.feed.post/3l3q (sent earlier, text "Delayed again
    @nordair") with rkey "3l3z" -> Post(source_id="at://did:plc:rt/app.bsky.feed.repost/3l3z",
    kind=repost, referenced_id="at://did:plc:abc/app.bsky.feed.post/3l3q", text="Delayed again @nordair",
    url=the original's url, author did:plc:rt)."""
    record = commit.record or {}
    try:
        return Post(
            source=Source.BLUESKY,
            source_id=record_uri(did, REPOST_COLLECTION, commit.rkey),
            created_at=created_at(record, time_us),
            text=original.text,
            language=original.language,
            author=author(did, handle),
            kind=PostKind.REPOST,
            referenced_id=original.source_id,
            url=original.url,
        )
    except ValidationError as exc:
        raise BadEvent(f"not a valid repost: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
