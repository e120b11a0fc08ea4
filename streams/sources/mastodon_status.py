"""A Mastodon status (the JSON of the streaming API, or Mastodon.py's `Status` from the REST API) as a Post.

Everything in a status is untrusted: its content is HTML written by another server, so it is reduced to plain
text (tags stripped, entities unescaped, nothing of it kept as markup); counts may be missing or absurd and are
clamped. What cannot make a Post raises `BadStatus` with the reason, for the deadletter topic.

Handles are fediverse addresses: a local account's `acct` ("alice") gets the instance's domain
("alice@mastodon.social"), so that one person has one handle whichever instance lytte reads, and mentions in
the text are written the same way ("@alice@mastodon.social") from the status's `mentions`.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from html.parser import HTMLParser

from pydantic import ValidationError

from schemas.records import MAX_ENGAGEMENT, MAX_FOLLOWERS, Author, Engagement, Post, PostKind, Source


class BadStatus(ValueError):
    """A status that cannot be a Post; the message is the deadletter reason."""


# -- HTML content -> plain text ------------------------------------------------------------------------------

_BLOCKS = {"p", "div", "blockquote", "li", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol"}
_SKIPPED = {"script", "style", "template", "head", "title"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextExtractor(HTMLParser):
    def __init__(self, mentions: Mapping[str, str]) -> None:
        super().__init__(convert_charrefs=True)
        self.mentions = mentions
        self.out: list[str] = []
        self._skip_depth = 0  # inside <script>, <style>, a quote-inline fallback, ...
        self._stack: list[tuple[str, bool]] = []  # (tag, opened a skipped region)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br",):
            self.out.append("\n")
            return
        if tag in ("img", "hr", "input", "meta", "link"):
            return  # void elements: no end tag follows
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        skip = tag in _SKIPPED or "quote-inline" in classes
        if not skip and tag == "a" and "mention" in classes and "hashtag" not in classes:
            acct = self.mentions.get(a.get("href") or "")
            if acct is not None:  # "@<span>alice</span>" -> "@alice@server"
                self.out.append("@" + acct)
                skip = True
        if tag in _BLOCKS:
            self.out.append("\n\n")
        if skip:
            self._skip_depth += 1
        self._stack.append((tag, skip))

    def handle_endtag(self, tag: str) -> None:
        # Close up to the matching open tag (content HTML from other servers is not always well nested).
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                for _, skipped in self._stack[i:]:
                    if skipped:
                        self._skip_depth -= 1
                del self._stack[i:]
                break
        if tag in _BLOCKS:
            self.out.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.out.append(data)


def html_to_text(html: str, mentions: Mapping[str, str] | None = None) -> str:
    """Plain text of a status's HTML content: tags stripped, entities unescaped, paragraphs as blank lines.

    Scenario: '<p>Delayed again <a href="https://m.s/tags/nordair" class="mention hashtag">#<span>nordair
    </span></a> &amp; no refund</p><p>&lt;script&gt;</p>' -> 'Delayed again #nordair & no refund\\n\\n<script>'
    (the escaped tag is text, never markup); a mention link whose href is in `mentions` becomes "@" + that
    address; `<script>` content and Mastodon's "RE: ..." quote fallback are dropped."""
    parser = _TextExtractor(mentions or {})
    parser.feed(html)
    parser.close()
    text = _CONTROL.sub("", "".join(parser.out))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


# -- ids -----------------------------------------------------------------------------------------------------


def id_order(status_id: str) -> tuple[int, str]:
    """Sort key of Mastodon ids (decimal strings of 64-bit snowflakes, compared as numbers): "99" < "100".

    Scenario: max(["109", "1000", "99"], key=id_order) -> "1000"."""
    return len(status_id), status_id


def newest(a: str | None, b: str | None) -> str | None:
    """The newer of two ids, either may be None: newest("5", None) -> "5"; newest("12", "9") -> "12"."""
    if a is None or b is None:
        return a if b is None else b
    return a if id_order(a) >= id_order(b) else b


class RecentIds:
    """The last `capacity` status ids seen, so that a status the stream and a backfill (or two streams) both
    deliver is sent once. Bounded: the oldest id is forgotten first.

    Scenario (capacity 2): add("1") -> True, add("1") -> False, add("2"), add("3") -> "1" is forgotten, so
    add("1") -> True again."""

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, status_id: str) -> bool:
        """True if the id is new (and now remembered)."""
        if status_id in self._ids:
            return False
        self._ids[status_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True

    def __contains__(self, status_id: str) -> bool:
        return status_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)


# -- status -> Post ------------------------------------------------------------------------------------------


def qualified_acct(acct: str, local_domain: str) -> str:
    """A fediverse address: qualified_acct("alice", "mastodon.social") -> "alice@mastodon.social";
    qualified_acct("bob@journa.host", "mastodon.social") -> "bob@journa.host"."""
    acct = acct.strip().removeprefix("@")
    return acct if "@" in acct or not local_domain else f"{acct}@{local_domain}"


def _text_field(obj: Mapping, key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _count(value: object, cap: int) -> int:
    """A provider's count, clamped: missing, negative (hidden) or not a number -> 0; huge -> the cap."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(min(max(value, 0), cap))


def _required_id(obj: Mapping, key: str, what: str) -> str:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise BadStatus(f"{what} has no {key}")
    return str(value)


def _created_at(obj: Mapping) -> datetime:
    value = obj.get("created_at")
    if isinstance(value, datetime):  # Mastodon.py has already parsed REST results
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise BadStatus(f"created_at is not a timestamp: {value[:40]!r}") from None
    else:
        raise BadStatus("status has no created_at")
    if parsed.tzinfo is None:
        raise BadStatus("created_at has no UTC offset")
    return parsed


def _http_url(*candidates: object) -> str | None:
    for value in candidates:
        if isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) <= 2000:
            return value
    return None


def _mentions(status: Mapping, local_domain: str) -> dict[str, str]:
    """href of a mention link -> the mentioned account's address."""
    out = {}
    for m in status.get("mentions") or ():
        if isinstance(m, Mapping) and isinstance(m.get("url"), str) and isinstance(m.get("acct"), str):
            out[m["url"]] = qualified_acct(m["acct"], local_domain)
    return out


def status_text(status: Mapping, local_domain: str = "") -> str:
    """The words of a status: its content warning (spoiler_text, plain text) then its content as plain text.

    Scenario: {"spoiler_text": "airline rant", "content": "<p>@nordair lost my bag</p>"} ->
    "airline rant\\n\\n@nordair lost my bag"."""
    content = html_to_text(_text_field(status, "content"), _mentions(status, local_domain))
    spoiler = _CONTROL.sub("", _text_field(status, "spoiler_text")).strip()
    return f"{spoiler}\n\n{content}" if spoiler and content else spoiler or content


def _quoted_id(status: Mapping) -> str | None:
    quote = status.get("quote")
    if not isinstance(quote, Mapping):
        return None
    quoted = quote.get("quoted_status")
    if isinstance(quoted, Mapping) and quoted.get("id") is not None:
        return str(quoted["id"])
    if quote.get("quoted_status_id") is not None:
        return str(quote["quoted_status_id"])
    return None


def _language(value: object) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 16 else None


def status_to_post(status: object, local_domain: str = "") -> Post:
    """The Post of a Mastodon status; raises BadStatus (the reason) when it cannot be one.

    Scenarios:
    - {"id": "1101", "created_at": "2026-12-07T10:42:00.000Z", "content": "<p>Stuck at the gate, #<span>nordair
      </span></p>", "language": "en", "url": "https://m.s/@ann/1101", "account": {"id": "7", "acct": "ann",
      "display_name": "Ann", "followers_count": 120}, ...} read on mastodon.social -> Post(source=mastodon,
      source_id="1101", text="Stuck at the gate, #nordair", author=Author(id="7", handle="ann@mastodon.social",
      display_name="Ann", followers=120), kind=original, language="en", url=...);
    - a reblog (status["reblog"] is the reblogged status) -> kind=repost, referenced_id = the reblogged id, the
      text of the reblogged status, the reblogger as author;
    - in_reply_to_id "1000" -> kind=reply, referenced_id="1000"; an accepted quote -> kind=quote;
    - no id, no account or no created_at -> BadStatus; missing counts -> 0, a missing language -> None.
    """
    if not isinstance(status, Mapping):
        raise BadStatus(f"status is a {type(status).__name__}, not an object")
    status_id = _required_id(status, "id", "status")
    account = status.get("account")
    if not isinstance(account, Mapping):
        raise BadStatus("status has no account")
    account_id = _required_id(account, "id", "account")
    acct = _text_field(account, "acct") or _text_field(account, "username")
    if not acct.strip():
        raise BadStatus("account has no acct")

    reblog = status.get("reblog")
    shown = status  # the status whose words the post carries
    if isinstance(reblog, Mapping):
        kind, referenced = PostKind.REPOST, _required_id(reblog, "id", "reblogged status")
        shown = reblog
    elif (quoted := _quoted_id(status)) is not None:
        kind, referenced = PostKind.QUOTE, quoted
    elif status.get("in_reply_to_id") is not None:
        kind, referenced = PostKind.REPLY, str(status["in_reply_to_id"])
    else:
        kind, referenced = PostKind.ORIGINAL, None

    try:
        return Post(
            source=Source.MASTODON,
            source_id=status_id,
            created_at=_created_at(status),
            text=status_text(shown, local_domain),
            language=_language(shown.get("language")),
            author=Author(
                id=account_id,
                handle=qualified_acct(acct, local_domain)[:200],
                display_name=_text_field(account, "display_name")[:500],
                followers=_count(account.get("followers_count"), MAX_FOLLOWERS),
            ),
            kind=kind,
            referenced_id=referenced,
            engagement=Engagement(
                likes=_count(status.get("favourites_count"), MAX_ENGAGEMENT),
                reposts=_count(status.get("reblogs_count"), MAX_ENGAGEMENT),
                replies=_count(status.get("replies_count"), MAX_ENGAGEMENT),
                quotes=_count(status.get("quotes_count"), MAX_ENGAGEMENT),
            ),
            url=_http_url(status.get("url"), shown.get("url"), status.get("uri")),
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise BadStatus(f"status {status_id}: {where}: {err['msg']}") from None
