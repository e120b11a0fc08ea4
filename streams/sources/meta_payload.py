"""Meta page webhooks without the server: the delivery signature and `feed` changes as Posts.

A delivery (Graph API "Webhooks for Pages", field `feed`) is

    {"object": "page", "entry": [{"id": PAGE_ID, "time": 1767175200, "changes": [
        {"field": "feed", "value": {"item": "comment", "verb": "add", "post_id": "PAGE_POST",
         "comment_id": "POST_COMMENT", "parent_id": "PAGE_POST", "message": "...",
         "from": {"id": "USER_ID", "name": "Kari Nordmann"}, "created_time": 1767175199}}]}]}

signed with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed with the app secret>`. Meta
escapes non-ASCII characters in the body it signs (`\\u00f8`), so the signature is checked on the bytes as they
came, never on a re-serialisation.

What becomes a Post: an `add` (or an `edited`, see `SeenIds`) of a `post`, `status`, `photo`, `video` or
`share` (an original) or a `comment` (a reply to its parent comment or post), with text. Not posts: removals,
hides, likes and reactions, changes of other fields, unpublished page posts and items without text; they
are counted as signs of life. A change that cannot be read goes to the deadletter topic alone (as a
one-change delivery), the rest of its delivery goes on.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from pydantic import ValidationError

from schemas.records import Author, Post, PostKind, Source

SIGNATURE_HEADER = "X-Hub-Signature-256"
_SIGNATURE_PREFIX = "sha256="

ORIGINAL_ITEMS = frozenset({"post", "status", "photo", "video", "share"})
COMMENT_ITEM = "comment"
#: verbs that carry the item's (current) text
CONTENT_VERBS = frozenset({"add", "edited", "edit"})
#: a created_time above this is in milliseconds (as seconds it would be past the year 5000)
_MS_THRESHOLD = 100_000_000_000


class MetaPayloadError(ValueError):
    """The delivery (or one change of it) is not what Meta documents; the message says what is wrong."""


def verify_signature(body: bytes, header: str | None, app_secret: str) -> bool:
    """True when `header` is `sha256=` and the hex HMAC-SHA256 of `body` keyed with `app_secret`, compared in
    constant time.

    Scenario: body b'{"object":"page"}', secret "s3cret", header "sha256=" + hmac(s3cret, body).hexdigest()
    -> True; the same header on b'{"object": "page"}' (one space more) -> False; None, "", "sha1=..." -> False."""
    if not header or not header.startswith(_SIGNATURE_PREFIX) or not app_secret:
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    given = header[len(_SIGNATURE_PREFIX) :].strip().lower()
    return hmac.compare_digest(expected.encode(), given.encode("ascii", errors="replace"))


@dataclass(frozen=True)
class FeedPost:
    """A Post from a feed change, and whether the change was the first `add` or a later `edited`."""

    post: Post
    edited: bool = False


@dataclass(frozen=True)
class Rejected:
    """What goes to the deadletter topic: the payload (a one-change delivery, or the body) and why."""

    payload: bytes
    reason: str


@dataclass
class Parsed:
    """One delivery read: posts to send, parts to deadletter, and how many changes were no post (signs of
    life: likes, removals, other fields)."""

    posts: list[FeedPost] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    ignored: int = 0


def parse_delivery(body: bytes) -> Parsed:
    """A verified delivery's body -> its posts, deadletters and ignored changes.

    Scenarios: a page delivery with a status `add` and a like -> 1 post, 1 ignored; the same with a third
    change whose created_time is "yesterday" -> that change alone rejected ("created_time: ..."), the others as
    before; b"not json" -> nothing but the body rejected ("not JSON: ..."); {"object": "instagram", ...} -> the
    body rejected ("object is 'instagram', not 'page'")."""
    out = Parsed()
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        out.rejected.append(Rejected(body, f"meta: not JSON: {exc}"))
        return out
    if not isinstance(doc, dict):
        out.rejected.append(Rejected(body, "meta: the body is not a JSON object"))
        return out
    if doc.get("object") != "page":
        out.rejected.append(Rejected(body, f"meta: object is {_short(doc.get('object'))}, not 'page'"))
        return out
    entries = doc.get("entry")
    if not isinstance(entries, list):
        out.rejected.append(Rejected(body, "meta: entry is not a list"))
        return out
    for entry in entries:
        _read_entry(entry, out)
    return out


def _read_entry(entry: object, out: Parsed) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str | int):
        out.rejected.append(Rejected(_one(entry), "meta: an entry without a page id"))
        return
    changes = entry.get("changes")
    if changes is None:  # Messenger's `messaging` and other entry kinds: not read by this source
        out.ignored += 1
        return
    if not isinstance(changes, list):
        out.rejected.append(Rejected(_one(entry), "meta: changes is not a list"))
        return
    for change in changes:
        try:
            result = change_to_post(change, entry.get("time"))
        except MetaPayloadError as exc:
            one = {k: v for k, v in entry.items() if k != "changes"} | {"changes": [change]}
            out.rejected.append(Rejected(_one(one), f"meta: {exc}"))
            continue
        if result is None:
            out.ignored += 1
        else:
            out.posts.append(result)


def change_to_post(change: object, entry_time: object = None) -> FeedPost | None:
    """One `changes[]` element of a page entry (`entry_time`: the entry's `time`, used when the change has no
    created_time) -> a FeedPost, or None when it is no post; MetaPayloadError when it cannot be read.

    Scenarios (page 1001):
    - feed, status add, post_id "1001_2002", message "Nordair lost my bag", from {id "77", name "Kari"},
      created_time 1767175200 -> Post(source meta, source_id "1001_2002", kind original, author id "77" handle
      "Kari", created_at 2025-12-31T10:00:00Z, url https://www.facebook.com/1001_2002);
    - feed, comment add, comment_id "2002_3003", parent_id "1001_2002" -> kind reply, referenced_id
      "meta:1001_2002", source_id "2002_3003";
    - feed, status edited -> the same Post with the new text, edited=True;
    - feed, comment remove; feed, reaction add; field "ratings"; a status add without message -> None;
    - feed, status add without post_id -> MetaPayloadError("feed status add without post_id")."""
    if not isinstance(change, dict):
        raise MetaPayloadError("a change is not a JSON object")
    if change.get("field") != "feed":
        return None
    value = change.get("value")
    if not isinstance(value, dict):
        raise MetaPayloadError("a feed change without a value object")
    item, verb = value.get("item"), value.get("verb")
    if not isinstance(item, str) or not isinstance(verb, str):
        raise MetaPayloadError("a feed change without item or verb")
    if verb not in CONTENT_VERBS or (item not in ORIGINAL_ITEMS and item != COMMENT_ITEM):
        return None
    if value.get("published") in (0, "0", False):  # a draft or scheduled page post: nobody has seen it
        return None
    message = value.get("message")
    if message is None or (isinstance(message, str) and not message.strip()):
        return None  # a photo or sticker without words: nothing to read
    if not isinstance(message, str):
        raise MetaPayloadError(f"feed {item} {verb}: message is not a string")
    post_id = _id(value.get("post_id"))
    if post_id is None:
        raise MetaPayloadError(f"feed {item} {verb} without post_id")
    if item == COMMENT_ITEM:
        source_id = _id(value.get("comment_id"))
        if source_id is None:
            raise MetaPayloadError(f"feed comment {verb} without comment_id")
        parent = _id(value.get("parent_id")) or post_id
        kind, referenced = PostKind.REPLY, f"{Source.META.value}:{parent}"
    else:
        source_id, kind, referenced = post_id, PostKind.ORIGINAL, None
    created = _time(value.get("created_time"), "created_time")
    if created is None:
        created = _time(entry_time, "entry time") or datetime.now(UTC)
    try:
        post = Post(
            source=Source.META,
            source_id=source_id,
            created_at=created,
            text=message,
            author=_author(value.get("from")),
            kind=kind,
            referenced_id=referenced,
            url=_url(value, source_id, item == COMMENT_ITEM),
        )
    except ValidationError as exc:
        raise MetaPayloadError(f"feed {item} {verb} {source_id}: {validation_reason(exc)}") from None
    return FeedPost(post, edited=verb != "add")


def validation_reason(exc: ValidationError) -> str:
    """The first problems of a ValidationError as "path: message", without the offending input (post text is
    untrusted and may be long). Scenario: text of 30,000 characters -> "text: String should have at most
    25000 characters"."""
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "post"
        parts.append(f"{where}: {err['msg']}")
    more = len(exc.errors()) - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _author(value: object) -> Author:
    # Meta leaves `from` out where the app may not see the person (no pages_read_user_content): keep the post,
    # by an author that says so; Facebook has no public handles, so the name stands in for one
    if not isinstance(value, dict) or _id(value.get("id")) is None:
        return Author(id="unknown", handle="unknown")
    author_id = _id(value["id"])  # at most 200 characters, as Author.id
    name = value.get("name") if isinstance(value.get("name"), str) else ""
    name = name.strip()[:200]
    return Author(id=author_id, handle=name or author_id, display_name=name)


def _url(value: dict, source_id: str, is_comment: bool) -> str:
    candidates = [value.get("permalink_url")]
    if not is_comment and isinstance(value.get("post"), dict):  # a comment's `post` is the post it is under
        candidates.append(value["post"].get("permalink_url"))
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.startswith(("https://", "http://")) and len(candidate) <= 2000:
            return candidate
    # Facebook resolves any post or comment id at facebook.com/<id>
    return f"https://www.facebook.com/{source_id}"


def _id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip() and len(value) <= 200:
        return value.strip()
    return None


def _time(value: object, what: str) -> datetime | None:
    """Unix seconds (or milliseconds), a numeric string, or ISO 8601 ("2026-09-05T20:00:00+0000") -> UTC."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000 if value > _MS_THRESHOLD else value
            return datetime.fromtimestamp(seconds, UTC)
        parsed = datetime.fromisoformat(value.strip()) if isinstance(value, str) else None
    except (ValueError, OverflowError, OSError):
        parsed = None
    if parsed is None:
        raise MetaPayloadError(f"{what} {_short(value)} is not a time")
    if parsed.tzinfo is None:
        raise MetaPayloadError(f"{what} {_short(value)} has no UTC offset")
    return parsed.astimezone(UTC)


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"


def _one(part: object) -> bytes:
    """A single entry or change as a delivery of its own, so that the deadletter topic holds replayable input."""
    return orjson.dumps({"object": "page", "entry": [part]})


class SeenIds:
    """The ids sent lately (at most `capacity`, the oldest forgotten first), so that Meta's retries and `edited`
    changes of posts already sent are not sent again. The worker would count them once anyway (by Post.id);
    this saves the traffic. An edit of a post not seen (sent before a restart, or before the subscription)
    is sent: it may be the first we hear of it.

    Scenario (capacity 2): add a, add b -> seen a, b; add c -> a forgotten: "a" in seen is False, "c" True."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, post_id: str) -> bool:
        return post_id in self._ids

    def add(self, post_id: str) -> None:
        self._ids[post_id] = None
        self._ids.move_to_end(post_id)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
