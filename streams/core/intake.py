"""Turning raw bytes from `posts.raw` into a Post, or into the reason it cannot be one.

Pure: the clock is a parameter, so the same bytes give the same answer in live processing and in tests.

Two clocks judge a post's time. A post from the future (beyond the allowed skew) is judged by the wall clock:
nothing can have been written after now. A post that is too old is judged by the stream's own time, the
event-time watermark of its partition (the newest post time seen before it): a replay of 2015 history into
its own topics is as young as its own stream, while a 2015 post arriving among today's posts is refused.
The worker's state horizon (`streams.core.expiry`) is measured from the same watermark, so every post that
intake accepts still finds its bucket and its dedup entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from pydantic import ValidationError

from schemas.records import Post, Source


@dataclass(frozen=True)
class Limits:
    max_record_bytes: int = 256 * 1024
    max_text_chars: int = 25_000
    max_future_skew: timedelta = timedelta(minutes=5)
    max_age: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class Rejected:
    reason: str


_SOURCES = ", ".join(s.value for s in Source)


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "(record)"
    if err["type"] == "missing":
        return f"missing field {field}"
    if field == "source" and err["type"] == "enum":
        return f"unknown source {err['input']!r} (known: {_SOURCES})"
    return f"invalid field {field}: {err['msg']}"


def parse_post(
    raw: bytes | None, now: datetime, limits: Limits = Limits(), stream_time: datetime | None = None
) -> Post | Rejected:
    """Decode and check one raw record. `stream_time` is the partition's watermark that the age check counts
    from (None: the wall clock `now`, for a post that belongs to no stream).

    Scenario: a well-formed Post JSON created a minute ago -> that Post. Created on 2015-02-24 with stream
    time 2015-02-24T12:00Z -> that Post; the same with stream time now -> Rejected("... is older than ...").
    A minute old with `"source": "myspace"` -> Rejected("unknown source 'myspace' (known: ...)"); bytes
    `b"\\xff{"` -> Rejected("invalid UTF-8 ...");
    a post dated tomorrow -> Rejected("created_at ... in the future ..."); a record without a value (a
    tombstone, None) -> Rejected("empty record: ...").
    """
    if raw is None:
        return Rejected("empty record: no value (a tombstone)")
    if len(raw) > limits.max_record_bytes:
        return Rejected(f"record of {len(raw)} bytes is over the {limits.max_record_bytes}-byte limit")
    try:  # the common case in one step (pydantic's own JSON parser); a record it refuses goes the long way
        post = Post.model_validate_json(raw)
    except ValidationError:
        return parse_slowly(raw, now, limits, stream_time)
    if len(post.text) > limits.max_text_chars:
        return Rejected(f"text of {len(post.text)} characters is over the {limits.max_text_chars}-character limit")
    return _checked_time(post, now, limits, stream_time)


def parse_slowly(
    raw: bytes, now: datetime, limits: Limits = Limits(), stream_time: datetime | None = None
) -> Post | Rejected:
    """`parse_post` step by step, each step with its own reason: UTF-8, JSON (orjson's reading, which decides
    what a repeated key or an odd number means), a JSON object, the text limit, the schema, the time."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejected(f"invalid UTF-8 at byte {exc.start}")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejected(f"invalid JSON: {exc}")
    if not isinstance(data, dict):
        return Rejected(f"expected a JSON object, got {type(data).__name__}")
    text = data.get("text")
    if isinstance(text, str) and len(text) > limits.max_text_chars:
        return Rejected(f"text of {len(text)} characters is over the {limits.max_text_chars}-character limit")
    try:
        post = Post.model_validate(data)
    except ValidationError as exc:
        return Rejected(_describe(exc))
    return _checked_time(post, now, limits, stream_time)


def _checked_time(post: Post, now: datetime, limits: Limits, stream_time: datetime | None) -> Post | Rejected:
    if post.created_at > now + limits.max_future_skew:
        return Rejected(f"created_at {post.created_at.isoformat()} is in the future (now {now.isoformat()})")
    reference = now if stream_time is None else stream_time
    if post.created_at < reference - limits.max_age:
        against = "now" if stream_time is None else "the stream's time"
        return Rejected(
            f"created_at {post.created_at.isoformat()} is older than {limits.max_age} before {against} "
            f"({reference.isoformat()})"
        )
    return post
