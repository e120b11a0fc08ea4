"""X API v2 stream lines into Posts.

A line of the filtered (or sample) stream is one JSON object: `data` (the post), `includes` (the expanded
authors and referenced posts), `matching_rules` (the rules, with our tags, that made X send it) and, at
times, `errors`. With `data`, `errors` are partial (a referenced post deleted or protected) and the post is
still good. Without `data`, the line is a message about the stream itself (an operational disconnect, too
many connections): the caller logs it, reports it and reconnects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from schemas.records import Author, Engagement, Post, PostKind, Source

#: What the stream is asked for: the author and the referenced posts (and their authors) expanded, the
#: author's follower count, the post's language, metrics, references and long text (`note_tweet`).
STREAM_PARAMS = {
    "expansions": ["author_id", "referenced_tweets.id", "referenced_tweets.id.author_id"],
    "tweet_fields": ["author_id", "created_at", "lang", "public_metrics", "referenced_tweets", "note_tweet"],
    "user_fields": ["name", "username", "public_metrics", "verified"],
}

#: X's reference types, in the order that decides a post's one kind when it has several (a reply that quotes
#: counts as a quote: what matters downstream is that the quoted post is spreading).
_KINDS = (("retweeted", PostKind.REPOST), ("quoted", PostKind.QUOTE), ("replied_to", PostKind.REPLY))

#: Problem types that mean X is ending this connection; any other error-only line is a problem to report too.
DISCONNECT_PROBLEMS = ("operational-disconnect", "streaming-connection")


class PayloadError(ValueError):
    """A line that cannot become a Post; the message is the deadletter reason (never the post's text)."""


@dataclass(frozen=True)
class StreamLine:
    """One parsed line: a post (with the tags of the rules that matched it), or X's errors about the stream."""

    post: Post | None = None
    errors: tuple[Mapping, ...] = ()


def read_line(raw: bytes | str, received_at: datetime | None = None) -> StreamLine:
    """Parse one non-empty stream line. Raises PayloadError for what must go to the deadletter topic.

    Scenarios: '{"data": {...}, "includes": {...}, "matching_rules": [{"id": "1", "tag": "brand:nordair"}]}' ->
    StreamLine(post=Post(..., matching_rules=("brand:nordair",))); '{"errors": [{"title": "operational-disconnect",
    ...}]}' -> StreamLine(errors=(...,)); '{not json' -> PayloadError("not JSON: ..."); '[1, 2]' ->
    PayloadError("not a JSON object")."""
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise PayloadError("not a JSON object")
    if "data" in payload:
        return StreamLine(post=to_post(payload, received_at))
    errors = payload.get("errors")
    if isinstance(errors, list) and errors and all(isinstance(e, dict) for e in errors):
        return StreamLine(errors=tuple(errors))
    raise PayloadError("neither data nor errors")


def to_post(payload: Mapping, received_at: datetime | None = None) -> Post:
    """The Post of a stream payload, with the tags of its matching rules.

    Scenarios:
    - original by @ada (followers 1200, in includes.users) -> kind original, author ("11", "ada", "Ada", 1200),
      url https://x.com/ada/status/<id>, created_at from the payload in UTC, language "en";
    - retweet of 100 by @bob, the original in includes.tweets -> kind repost, referenced_id "100", text
      "RT @bob: " + the original's full text (the retweet's own text is cut at 140 characters);
    - reply to 100 -> kind reply, referenced_id "100"; quote of 100 -> kind quote, referenced_id "100";
    - no includes at all -> the author is known by id only (handle = the id, followers 0), url
      https://x.com/i/web/status/<id>; no created_at -> `received_at` (the stream is real-time);
    - no id, no text or no author id -> PayloadError; a field out of the Post's bounds -> PayloadError.
    """
    data = payload.get("data")
    if not isinstance(data, dict):
        raise PayloadError("data is not an object")
    post_id, author_id = _text(data, "id"), _text(data, "author_id")
    text = _full_text(data)
    if not post_id or text is None or not author_id:
        missing = [name for name, value in (("id", post_id), ("text", text), ("author_id", author_id)) if not value]
        raise PayloadError(f"data without {', '.join(missing)}")
    includes = payload.get("includes") if isinstance(payload.get("includes"), dict) else {}
    users = _by_id(includes.get("users"))
    tweets = _by_id(includes.get("tweets"))

    kind, referenced_id = _kind(data)
    if kind is PostKind.REPOST and referenced_id in tweets:
        original = tweets[referenced_id]
        original_text = _full_text(original)
        original_author = users.get(_text(original, "author_id") or "", {})
        if original_text is not None and _text(original_author, "username"):
            text = f"RT @{original_author['username']}: {original_text}"

    user = users.get(author_id, {})
    handle = _text(user, "username") or author_id
    try:
        post = Post(
            source=Source.X,
            source_id=post_id,
            created_at=_created_at(data, received_at),
            text=text,
            language=_language(data),
            author=Author(
                id=author_id,
                handle=handle,
                display_name=_text(user, "name") or "",
                followers=_metric(user, "followers_count"),
                verified=user.get("verified") is True,
            ),
            kind=kind,
            referenced_id=referenced_id,
            engagement=Engagement(
                likes=_metric(data, "like_count"),
                reposts=_metric(data, "retweet_count"),
                replies=_metric(data, "reply_count"),
                quotes=_metric(data, "quote_count"),
            ),
            url=f"https://x.com/{handle}/status/{post_id}" if user.get("username") else _web_url(post_id),
            matching_rules=_rule_tags(payload.get("matching_rules")),
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PayloadError(f"not a valid post: {where}: {first['msg']}") from None
    return post


def stream_problem(errors: tuple[Mapping, ...]) -> str:
    """X's error-only message in one line for the log and the health detail.

    Scenario: [{"title": "operational-disconnect", "disconnect_type": "UpstreamOperationalDisconnect",
    "detail": "This stream has been disconnected upstream for operational reasons.", ...}] ->
    "operational-disconnect (UpstreamOperationalDisconnect): This stream has been disconnected upstream for
    operational reasons."."""
    parts = []
    for error in errors:
        title = str(error.get("title") or "error")
        kind = error.get("disconnect_type") or error.get("connection_issue")
        detail = error.get("detail")
        parts.append(title + (f" ({kind})" if kind else "") + (f": {detail}" if detail else ""))
    return "; ".join(parts)[:400]


def is_disconnect(errors: tuple[Mapping, ...]) -> bool:
    """Whether X says it is closing this connection (operational disconnect, connection problems), not
    something about our request. Scenario: [{"type": "https://api.twitter.com/2/problems/operational-disconnect"}]
    -> True; [{"title": "Invalid Request"}] -> False."""
    return any(
        any(name in str(error.get("type", "")) or name == error.get("title") for name in DISCONNECT_PROBLEMS)
        for error in errors
    )


def _kind(data: Mapping) -> tuple[PostKind, str | None]:
    refs = data.get("referenced_tweets")
    if not isinstance(refs, list):
        return PostKind.ORIGINAL, None
    by_type = {ref.get("type"): _text(ref, "id") for ref in refs if isinstance(ref, dict)}
    for ref_type, kind in _KINDS:
        if by_type.get(ref_type):
            return kind, by_type[ref_type]
    return PostKind.ORIGINAL, None


def _full_text(data: Mapping) -> str | None:
    """A long post's whole text is in `note_tweet.text`; `text` is then cut."""
    note = data.get("note_tweet")
    if isinstance(note, dict) and isinstance(note.get("text"), str):
        return note["text"]
    text = data.get("text")
    return text if isinstance(text, str) else None


def _created_at(data: Mapping, received_at: datetime | None) -> datetime:
    raw = data.get("created_at")
    if raw is None:
        return received_at or datetime.now(UTC)
    try:
        value = datetime.fromisoformat(str(raw))
    except ValueError:
        raise PayloadError(f"created_at is not a timestamp: {str(raw)[:40]!r}") from None
    if value.tzinfo is None:
        raise PayloadError("created_at has no UTC offset")
    return value.astimezone(UTC)


def _language(data: Mapping) -> str | None:
    """X's language code; "und" (undetermined) is no language."""
    lang = data.get("lang")
    return lang if isinstance(lang, str) and lang and lang != "und" else None


def _metric(obj: Mapping, name: str) -> int:
    metrics = obj.get("public_metrics")
    value = metrics.get(name) if isinstance(metrics, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(obj: Mapping, name: str) -> str | None:
    value = obj.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None


def _by_id(items) -> dict[str, dict]:
    if not isinstance(items, list):
        return {}
    return {str(item["id"]): item for item in items if isinstance(item, dict) and item.get("id") is not None}


def _rule_tags(rules) -> tuple[str, ...]:
    if not isinstance(rules, list):
        return ()
    tags = (rule.get("tag") for rule in rules if isinstance(rule, dict))
    return tuple(dict.fromkeys(tag for tag in tags if isinstance(tag, str) and tag))


def _web_url(post_id: str) -> str:
    """X's link to a post whose author's handle is unknown."""
    return f"https://x.com/i/web/status/{post_id}"
