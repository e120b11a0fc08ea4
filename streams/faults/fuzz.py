"""Deterministic hostile records for the fault suite.

Everything here is a pure function of a `random.Random` (or a seed) and a clock, so a failing fault run can
be replayed byte for byte. Three entry points:

- `good_post`: a valid Post as a JSON dict, often with odd-but-valid Unicode (emoji, RTL, combining marks,
  zero-width joiners, case-folding traps such as long s 'ſ' and the Kelvin sign 'K', NFKC-different forms).
- `bad_record`: one hostile record as raw bytes, with its category and whether intake must reject it.
- `mixed_stream`: a shuffled mix of both, plus exact duplicates and same-id redeliveries.

Whether a record must be rejected is decided from how it was built, never by asking `streams.core.intake`; the
unit tests hold the two against each other. Where the schema accepts a record that looks hostile (pydantic's
lax mode turns `"12"` into 12 followers, `true` into schema version 1, a Unix time into a timestamp), the
record is marked as accepted and its `detail` says why.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import orjson

from schemas.records import MAX_ENGAGEMENT, MAX_FOLLOWERS, MAX_TEXT_CHARS
from schemas.watch import WatchConfig

#: Plain mentions of every brand and competitor in `config/watch.yaml`: names, aliases, @handles, #hashtags.
BRAND_MENTIONS: tuple[str, ...] = (
    "Nordair",
    "Nord Air",
    "@nordair",
    "@nordair_help",
    "#nordair",
    "Fjordbank",
    "Fjord Bank",
    "@fjordbank",
    "#fjordbank",
    "Skyline",
    "Skyline Airways",
    "@skylineair",
    "#skyline",
)

#: Key people in `config/watch.yaml`, without the '@'.
KEY_PEOPLE: tuple[str, ...] = ("ingrid_news", "travelwithtom")

#: Every category `bad_record` draws from, each with the same probability.
CATEGORIES: tuple[str, ...] = (
    "invalid_utf8",
    "truncated_json",
    "deep_nesting",
    "huge_record",
    "non_object",
    "empty",
    "wrong_type",
    "bad_timestamp",
    "null_field",
    "missing_field",
    "extra_field",
    "text_too_long",
    "date_out_of_range",
    "unknown_source",
    "javascript_url",
    "nan_infinity",
    "duplicate_keys",
    "long_string",
    "control_chars",
    "surrogate_escape",
)

_MAX_RECORD_BYTES = 256 * 1024
_MAX_AGE = timedelta(days=7)
_MAX_FUTURE_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Fuzzed:
    """One record for `posts.raw`: its bytes, what kind of fault it is, and whether intake must reject it."""

    raw: bytes = field(repr=False)
    category: str
    should_reject: bool
    detail: str = ""


def mentions_for(config: WatchConfig) -> tuple[str, ...]:
    """Plain mentions of every watched brand and competitor of a config.

    Scenario: the config in `config/watch.yaml` -> ("Nordair", "Nord Air", "@nordair", "@nordair_help",
    "#nordair", "Fjordbank", ...), the same set as `BRAND_MENTIONS`.
    """
    out: list[str] = []
    for watched, _role in config.watched():
        out += [watched.name, *watched.aliases]
        out += [f"@{h}" for h in watched.handles]
        out += [f"#{t}" for t in watched.hashtags]
    return tuple(out)


# --- good posts -------------------------------------------------------------------------------------------

_PHRASES = (
    "lost my bag again",
    "3h delay at OSL, no information at the gate",
    "refund still not here after 6 weeks",
    "great crew today, thanks",
    "app down since morning",
    "flight cancelled and no rebooking offered",
    "best landing ever",
    "fees went up again?",
    "outage on the card terminals",
    "boarding now",
    "kaffe og vafler om bord",
    "¿dónde está mi maleta?",
)

# (label, weight, strings). Every string is valid Unicode; none of them is needed for the post to match a
# brand (a plain mention is always added), they are there to trip normalisation, matching and rendering.
_DECORATIONS: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("emoji", 4, ("✈️", "😡", "👩‍✈️", "🇳🇴", "👍🏽", "🧳", "❤️‍🔥", "🏳️‍🌈", "👨‍👩‍👧‍👦")),
    ("rtl", 3, ("שלום לכולם", "مرحبا بكم في الطائرة", "\u202eriadron\u202c", "\u200fטיסה\u200f", "رحلة delay")),
    ("combining", 3, ("Z\u0351\u0333a\u0336l\u035fg\u0360o", "cafe\u0301", "n\u0303o\u0308", "a" + "\u0300" * 30)),
    ("zero_width", 3, ("Nord\u200bair", "\u200d", "a\u200cb", "\ufeff", "\u2060", "\u00ad")),
    ("nfkc", 3, ("Ｎｏｒｄａｉｒ", "＠nordair", "ﬂight", "ℕ𝕠𝕣𝕕𝕒𝕚𝕣", "x²", "Ⓝordair", "㍻", "ǅ")),
    ("hashtag", 3, ("#nordair✈️", "#flysøndag", "#北欧旅行", "#مطار", "#cafe\u0301", "#ſkyline", "#Ｎｏｒｄａｉｒ")),
    # case-folding traps next to brand handles: re.IGNORECASE matches 'ſ' to 's' and 'K' (Kelvin) to 'k'
    ("fold_brand", 2, ("@ſkylineair", "@sKylineair", "#fjordbanK", "@NORDAIR", "K @nordair", "@nordairK")),
    ("key_person", 2, ("@ingrid_news", "@Ingrid_News", "@TRAVELWITHTOM")),
    # the same traps next to a key person's handle: they match the person but do not lower() to their key
    ("fold_key_person", 1, ("@ingrid_newſ", "@ıngrid_news", "@İngrid_news")),
)
_DECORATION_WEIGHTS = tuple(w for _, w, _ in _DECORATIONS)

_AUTHOR_HANDLES = (
    "user_{n}",
    "søren_{n}",
    "مستخدم{n}",
    "ユーザー{n}",
    "ingrid_news",
    "Ingrid_News",
    "ingrid_newſ",
    "@travelwithtom",
)
_DISPLAY_NAMES = ("", "Søren Ø.", "Ingrid Dahl ✈️", "محمد", "Z\u0351a\u0336lgo", "\u202eevil\u202c", "👩‍✈️")
_LANGUAGES = ("en", "nb", "ar", "he", "ja", "und")
_KINDS = ("original", "original", "reply", "repost", "quote")


def _timestamp(rng: random.Random, t: datetime) -> str:
    style = rng.randrange(4)
    if style == 0:
        return t.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if style == 1:
        return t.astimezone(UTC).isoformat()
    if style == 2:
        return t.astimezone(timezone(timedelta(hours=2))).isoformat()
    return t.astimezone(timezone(-timedelta(hours=5, minutes=30))).isoformat()


def good_post(rng: random.Random, now: datetime, n: int, *, mentions: Sequence[str] = BRAND_MENTIONS) -> dict:
    """A valid Post as a JSON-ready dict: `parse_post(orjson.dumps(good_post(...)), now)` returns a Post.

    `source` is "synth" and `source_id` is `f"fz-{n}"`, so distinct `n` give distinct posts; `created_at` is
    up to five minutes before `now`, in one of several valid offsets. The text always contains one plain
    mention from `mentions` (default: the brands of `config/watch.yaml`) and often odd-but-valid Unicode.

    Scenario: now 2026-11-24T12:00Z, `good_post(random.Random(1), now, 7)` -> {"source": "synth",
    "source_id": "fz-7", "created_at": "2026-11-24T11:58:03.057358Z", "text": "@nordair: boarding now",
    "author": {"id": "synth-author-273878287", "handle": "søren_7", "display_name": "محمد", ...},
    "kind": "quote", "referenced_id": "fz-ref-991188", ...}; a fresh `random.Random(1)` -> the same dict.
    Other draws give texts such as "#fjordbank: 👩‍✈️ fees went up again? @ingrid_newſ".
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    tokens = [rng.choice(mentions) + ":", rng.choice(_PHRASES)]
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        _label, _w, strings = rng.choices(_DECORATIONS, weights=_DECORATION_WEIGHTS)[0]
        tokens.insert(rng.randrange(1, len(tokens) + 1), rng.choice(strings))
    author: dict = {
        "id": f"synth-author-{rng.randrange(10**9)}",
        "handle": rng.choice(_AUTHOR_HANDLES).format(n=n),
    }
    if rng.random() < 0.7:
        author["display_name"] = rng.choice(_DISPLAY_NAMES)
    if rng.random() < 0.8:
        author["followers"] = rng.choice((0, rng.randrange(10_000), rng.randrange(10_000_000)))
    if rng.random() < 0.5:
        author["verified"] = rng.random() < 0.2
    post: dict = {
        "source": "synth",
        "source_id": f"fz-{n}",
        "created_at": _timestamp(rng, now - timedelta(seconds=rng.uniform(0, 300))),
        "text": " ".join(tokens),
        "author": author,
    }
    if rng.random() < 0.5:
        post["schema_version"] = 1
    language = rng.random()
    if language < 0.3:
        post["language"] = rng.choice(_LANGUAGES)
    elif language < 0.4:
        post["language"] = None
    kind = rng.choice(_KINDS)
    if kind != "original" or rng.random() < 0.5:
        post["kind"] = kind
    if kind != "original":
        post["referenced_id"] = f"fz-ref-{rng.randrange(10**6)}"
    if rng.random() < 0.7:
        post["engagement"] = {k: rng.randrange(500) for k in ("likes", "reposts", "replies", "quotes")}
    if rng.random() < 0.5:
        post["url"] = rng.choice(("https", "http")) + f"://synth.example/{author['handle']}/fz-{n}"
    return post


# --- building blocks for bad records ----------------------------------------------------------------------

Path = tuple[str, ...]


class _Lit(bytes):
    """A JSON literal spliced in verbatim, for what orjson cannot write: NaN, 2**70, bad escapes."""


def _set(data: dict, path: Path, value: object) -> None:
    for key in path[:-1]:
        child = data.get(key)
        if not isinstance(child, dict):
            child = data[key] = {}
        data = child
    data[path[-1]] = value


def _delete(data: dict, path: Path) -> None:
    for key in path[:-1]:
        data = data.get(key) or {}
    data.pop(path[-1], None)


def _dumps(data: object) -> bytes:
    """orjson.dumps, but `_Lit` values anywhere in the structure are written verbatim."""
    holes: dict[bytes, bytes] = {}

    def walk(node: object) -> object:
        if isinstance(node, _Lit):
            marker = f"\x00fuzz-hole-{len(holes)}\x00"
            holes[orjson.dumps(marker)] = bytes(node)
            return marker
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    raw = orjson.dumps(walk(data))
    for marker, literal in holes.items():
        raw = raw.replace(marker, literal)
    return raw


def _inline(data: dict, path: Path, literal: bytes) -> bytes:
    """Serialise `data` with raw bytes `literal` appended inside the string at `path` (no escaping)."""
    marker = "\x00fuzz-inline\x00"
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = f"{node[path[-1]]} {marker}"
    return orjson.dumps(data).replace(orjson.dumps(marker)[1:-1], literal)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


Built = tuple[bytes, bool, str]
Builder = Callable[[random.Random, datetime, int], Built]


def _invalid_utf8(rng: random.Random, now: datetime, n: int) -> Built:
    label, pattern = rng.choice(
        (
            ("lone continuation byte", b"\x80"),
            ("0xff byte", b"\xff"),
            ("UTF-16 BOM bytes", b"\xff\xfe"),
            ("overlong '/'", b"\xc0\xaf"),
            ("overlong 3-byte NUL", b"\xe0\x80\x80"),
            ("CESU-8 surrogate", b"\xed\xa0\x80"),
            ("code point above U+10FFFF", b"\xf4\x90\x80\x80"),
            ("truncated 3-byte sequence", b"\xe2\x82"),
            ("5-byte sequence", b"\xf8\x88\x80\x80\x80"),
            ("Latin-1 'Bodø'", b"Bod\xf8"),
            ("cp1252 curly quotes", b"\x93quoted\x94"),
        )
    )
    post = good_post(rng, now, n)
    where = rng.randrange(4)
    if where == 0:
        return pattern + orjson.dumps(post), True, f"{label} before the record"
    if where == 1:
        return orjson.dumps(post) + pattern, True, f"{label} after the record"
    path = ("text",) if where == 2 else ("author", "handle")
    return _inline(post, path, pattern), True, f"{label} inside {'.'.join(path)}"


def _truncated_json(rng: random.Random, now: datetime, n: int) -> Built:
    raw = orjson.dumps(good_post(rng, now, n))
    cut = len(raw) - 1 if rng.random() < 0.2 else rng.randrange(1, len(raw))
    return raw[:cut], True, f"cut after {cut} of {len(raw)} bytes"


def _deep_nesting(rng: random.Random, now: datetime, n: int) -> Built:
    variant = rng.randrange(7)
    if variant == 0:
        return b"[" * 10_000 + b"]" * 10_000, True, "10,000 nested arrays"
    if variant == 1:
        return b'{"a":' * 10_000 + b"1" + b"}" * 10_000, True, "10,000 nested objects"
    if variant == 2:
        return b'[{"a":' * 5_000 + b"null" + b"}]" * 5_000, True, "5,000 nested array-object pairs"
    if variant == 3:
        return b"[" * 10_000, True, "10,000 unclosed arrays"
    if variant == 4:
        return b"[" * 1_025 + b"]" * 1_025, True, "1,025 nested arrays (just over orjson's limit)"
    post = good_post(rng, now, n)
    if variant == 5:
        post["text"] = _Lit(b"[" * 10_000 + b"]" * 10_000)
        return _dumps(post), True, "text is 10,000 nested arrays"
    post["text"] = _Lit(b"[" * 1_000 + b"]" * 1_000)
    return _dumps(post), True, "text is 1,000 nested arrays (parses as JSON, fails the schema)"


def _huge_record(rng: random.Random, now: datetime, n: int) -> Built:
    size = rng.randint(_MAX_RECORD_BYTES + 1, 400 * 1024)
    variant = rng.randrange(5)
    post = good_post(rng, now, n)
    if variant == 0:
        post["text"] = "x" * size
        return orjson.dumps(post), True, f"text of {size} bytes"
    if variant == 1:
        post["author"]["display_name"] = "ø" * (size // 2)
        return orjson.dumps(post), True, f"display_name of {size // 2 * 2} bytes"
    if variant == 2:
        return b"[" + b"1," * (size // 2) + b"1]", True, f"array of {size // 2 + 1} numbers"
    if variant == 3:
        return orjson.dumps(post) + b" " * size, True, f"valid post padded with {size} spaces"
    return _many_keys(), True, f"object with {_MANY_KEYS} keys"


_MANY_KEYS = 30_000


@functools.cache
def _many_keys() -> bytes:
    """An object of 30,000 distinct keys (about 420 KiB); built once, it is the same bytes on every draw."""
    return b"{" + b",".join(b'"k%d":%d' % (i, i) for i in range(_MANY_KEYS)) + b"}"


def _non_object(rng: random.Random, now: datetime, n: int) -> Built:
    post = orjson.dumps(good_post(rng, now, n))
    raw, label = rng.choice(
        (
            (b"[]", "empty array"),
            (b"[" + post + b"]", "array holding a valid post"),
            (b"42", "number"),
            (b"-0", "negative zero"),
            (b"1e5", "float"),
            (b'"text"', "string"),
            (orjson.dumps(post.decode()), "the post as a JSON string"),
            (b"null", "null literal"),
            (b"true", "true literal"),
            (b"false", "false literal"),
        )
    )
    return raw, True, label


def _empty(rng: random.Random, now: datetime, n: int) -> Built:
    raw, label = rng.choice(((b"", "zero bytes"), (b" ", "one space"), (b"\n", "newline"), (b"\r\n\t ", "whitespace")))
    return raw, True, label


# (path, value, should_reject); accepted odd values are pydantic lax-mode coercions or exact schema bounds
_WRONG_TYPES: tuple[tuple[Path, object, bool], ...] = (
    (("text",), 42, True),
    (("text",), ["@nordair"], True),
    (("text",), {"body": "@nordair"}, True),
    (("text",), True, True),
    (("source_id",), 42, True),
    (("source",), 1, True),
    (("author",), "ingrid_news", True),
    (("author",), [], True),
    (("author",), 42, True),
    (("author", "id"), 42, True),
    (("author", "handle"), ["@x"], True),
    (("author", "followers"), "many", True),
    (("author", "followers"), 12.5, True),
    (("author", "followers"), -1, True),
    (("author", "followers"), 1e300, True),
    (("author", "followers"), _Lit(b"%d" % 2**70), True),  # orjson reads it as a float, too big for an int
    (("author", "followers"), "12", False),
    (("author", "followers"), 12.0, False),
    (("author", "followers"), str(2**70), True),
    (("author", "followers"), MAX_FOLLOWERS, False),
    (("author", "followers"), MAX_FOLLOWERS + 1, True),
    (("author", "verified"), "maybe", True),
    (("author", "verified"), 2, True),
    (("author", "verified"), "yes", False),
    (("author", "verified"), 1, False),
    (("engagement",), [], True),
    (("engagement",), "lots", True),
    (("engagement", "likes"), -5, True),
    (("engagement", "likes"), _Lit(b"%d" % 2**64), True),
    (("engagement", "likes"), 2**64 - 1, True),
    (("engagement", "likes"), MAX_ENGAGEMENT, False),
    (("engagement", "replies"), MAX_ENGAGEMENT + 1, True),
    (("kind",), "retweet", True),
    (("kind",), "ORIGINAL", True),
    (("kind",), 1, True),
    (("schema_version",), 2, True),
    (("schema_version",), "1", True),
    (("schema_version",), True, False),  # True == 1 satisfies Literal[1]
    (("schema_version",), 1.0, False),
    (("language",), 5, True),
    (("url",), 5, True),
    (("referenced_id",), 5, True),
)


def _wrong_type(rng: random.Random, now: datetime, n: int) -> Built:
    path, value, reject = rng.choice(_WRONG_TYPES)
    post = good_post(rng, now, n)
    _set(post, path, value)
    shown = bytes(value).decode() if isinstance(value, _Lit) else repr(value)
    return _dumps(post), reject, f"{'.'.join(path)}={shown}" + ("" if reject else " (accepted)")


def _bad_timestamp(rng: random.Random, now: datetime, n: int) -> Built:
    recent = now - timedelta(minutes=1)
    value, reject, label = rng.choice(
        (
            (int(recent.timestamp()), False, "Unix seconds as a number (accepted: lax coercion)"),
            (str(int(recent.timestamp())), False, "Unix seconds as a string (accepted: lax coercion)"),
            (0, True, "number 0 (1970)"),
            ("yesterday", True, "garbage"),
            ("", True, "empty string"),
            ("2026-13-45T00:00:00Z", True, "month 13"),
            (recent.astimezone(UTC).replace(tzinfo=None).isoformat(), True, "naive timestamp"),
            (recent.date().isoformat(), True, "date only"),
            (_iso(recent).replace("Z", "+24:00"), True, "offset +24:00"),
            ("0000-01-01T00:00:00Z", True, "year 0"),
            ("9999-12-31T23:59:59Z", True, "year 9999 UTC"),
            ("9999-12-31T23:59:59-01:00", True, "year 9999 with a negative offset (overflows in UTC)"),
            ("0001-01-01T00:00:00+01:00", True, "year 1 with a positive offset (overflows in UTC)"),
            ([2026, 11, 24], True, "array"),
            ({"$date": _iso(recent)}, True, "object"),
            (recent.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.123456789Z"), False, "nanosecond precision"),
        )
    )
    post = good_post(rng, now, n)
    post["created_at"] = value
    return orjson.dumps(post), reject, f"created_at {label}: {value!r}"


# (path, should_reject when null / when missing)
_FIELDS: tuple[tuple[Path, bool, bool], ...] = (
    (("schema_version",), True, False),
    (("source",), True, True),
    (("source_id",), True, True),
    (("created_at",), True, True),
    (("text",), True, True),
    (("language",), False, False),
    (("author",), True, True),
    (("author", "id"), True, True),
    (("author", "handle"), True, True),
    (("author", "display_name"), True, False),
    (("author", "followers"), True, False),
    (("author", "verified"), True, False),
    (("kind",), True, False),
    (("referenced_id",), False, False),
    (("engagement",), True, False),
    (("engagement", "likes"), True, False),
    (("url",), False, False),
)


def _null_field(rng: random.Random, now: datetime, n: int) -> Built:
    path, reject, _ = rng.choice(_FIELDS)
    post = good_post(rng, now, n)
    _set(post, path, None)
    return orjson.dumps(post), reject, f"{'.'.join(path)}=null"


def _missing_field(rng: random.Random, now: datetime, n: int) -> Built:
    if rng.random() < 0.05:
        return b"{}", True, "every field missing"
    path, _, reject = rng.choice(_FIELDS)
    post = good_post(rng, now, n)
    _delete(post, path)
    return orjson.dumps(post), reject, f"{'.'.join(path)} missing"


_EXTRA_FIELDS: tuple[Path, ...] = (
    ("id",),
    ("lang",),
    ("retweet_count",),
    ("__proto__",),
    ("constructor",),
    ("",),
    ("Text",),
    ("author", "email"),
    ("engagement", "views"),
)


def _extra_field(rng: random.Random, now: datetime, n: int) -> Built:
    path = rng.choice(_EXTRA_FIELDS)
    value = rng.choice((None, 1, "x", {"isAdmin": True}, []))
    post = good_post(rng, now, n)
    _set(post, path, value)
    return orjson.dumps(post), True, f"unknown field {'.'.join(path)!r}"


def _text_too_long(rng: random.Random, now: datetime, n: int) -> Built:
    char = rng.choice(("x", "ø", "✈", "😀"))
    post = good_post(rng, now, n)
    if rng.random() < 0.2:
        post["text"] = post["text"][:100] + " " + char * (MAX_TEXT_CHARS - 101)
        post["text"] += char * (MAX_TEXT_CHARS - len(post["text"]))
        return orjson.dumps(post), False, f"text of exactly {MAX_TEXT_CHARS} characters of {char!r}"
    length = rng.choice((MAX_TEXT_CHARS + 1, rng.randint(MAX_TEXT_CHARS + 2, 40_000)))
    post["text"] = (post["text"] + " " + char * length)[:length]
    return orjson.dumps(post), True, f"text of {length} characters of {char!r}"


def _date_out_of_range(rng: random.Random, now: datetime, n: int) -> Built:
    value, reject, label = rng.choice(
        (
            (_iso(now + _MAX_FUTURE_SKEW + timedelta(minutes=1)), True, "just over the future skew"),
            (_iso(now + timedelta(days=1)), True, "tomorrow"),
            (_iso(now + timedelta(days=3650)), True, "in ten years"),
            ("3000-01-01T00:00:00Z", True, "year 3000"),
            ("9999-12-31T23:59:59.999999Z", True, "end of year 9999"),
            (_iso(now - _MAX_AGE - timedelta(minutes=1)), True, "just over the maximum age"),
            (_iso(now - timedelta(days=3650)), True, "ten years ago"),
            ("1970-01-01T00:00:00Z", True, "the Unix epoch"),
            ("0001-01-01T00:00:00Z", True, "year 1"),
            (_iso(now + timedelta(minutes=4)), False, "4 minutes ahead (within the skew)"),
            (_iso(now - timedelta(days=6)), False, "6 days old (within the maximum age)"),
        )
    )
    post = good_post(rng, now, n)
    post["created_at"] = value
    return orjson.dumps(post), reject, f"created_at {label}: {value}"


def _unknown_source(rng: random.Random, now: datetime, n: int) -> Built:
    source = rng.choice(("myspace", "twitter", "X", "Synth", "", " synth", "synth\u200b", "ｓｙｎｔｈ", "synth\x00"))
    post = good_post(rng, now, n)
    post["source"] = source
    return orjson.dumps(post), True, f"source {source!r}"


def _javascript_url(rng: random.Random, now: datetime, n: int) -> Built:
    url, reject = rng.choice(
        (
            ("javascript:alert(1)", True),
            ("JavaScript:alert(document.cookie)", True),
            (" javascript:alert(1)", True),
            ("java\tscript:alert(1)", True),
            ("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", True),
            ("vbscript:msgbox(1)", True),
            ("HTTPS://synth.example/x", True),  # the schema's pattern is case-sensitive
            ("//evil.example/x", True),
            ("https://synth.example/" + "a" * 2_000, True),
            ("https://synth.example/?next=javascript:alert(1)", False),
            ("https://synth.example/\u202ejs.exe", False),
        )
    )
    post = good_post(rng, now, n)
    post["url"] = url
    return orjson.dumps(post), reject, f"url {url[:60]!r}"


def _nan_infinity(rng: random.Random, now: datetime, n: int) -> Built:
    literal = rng.choice((b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"nan", b"inf"))
    path = rng.choice((("author", "followers"), ("engagement", "likes"), ("schema_version",), ("text",)))
    post = good_post(rng, now, n)
    _set(post, path, _Lit(literal))
    return _dumps(post), True, f"{'.'.join(path)}={literal.decode()}"


def _duplicate_keys(rng: random.Random, now: datetime, n: int) -> Built:
    key, bad = rng.choice(
        (
            ("source", "myspace"),
            ("created_at", "3000-01-01T00:00:00Z"),
            ("url", "javascript:alert(1)"),
            ("text", 42),
            ("author", "ingrid_news"),
        )
    )
    post = good_post(rng, now, n)
    post.setdefault("url", "https://synth.example/x")
    dup = orjson.dumps(key) + b":" + orjson.dumps(bad)
    raw = orjson.dumps(post)
    if rng.random() < 0.5:  # orjson keeps the last value of a repeated key
        return b"{" + dup + b"," + raw[1:], False, f"{key} twice, bad value first (last one wins)"
    return raw[:-1] + b"," + dup + b"}", True, f"{key} twice, bad value last (last one wins)"


_LIMITS: tuple[tuple[Path, int], ...] = (
    (("source_id",), 200),
    (("author", "id"), 200),
    (("author", "handle"), 200),
    (("author", "display_name"), 500),
    (("language",), 16),
    (("referenced_id",), 200),
)


def _long_string(rng: random.Random, now: datetime, n: int) -> Built:
    path, limit = rng.choice(_LIMITS)
    char = rng.choice(("a", "ø", "😀"))
    length = rng.choice((limit, limit + 1, limit * 10, 50_000))
    post = good_post(rng, now, n)
    _set(post, path, char * length)
    return orjson.dumps(post), length > limit, f"{'.'.join(path)} of {length} {char!r} (max {limit})"


def _control_chars(rng: random.Random, now: datetime, n: int) -> Built:
    label, chars = rng.choice(
        (
            ("NUL", "\x00"),
            ("C0 controls", "\x01\x02\x03"),
            ("ANSI escape", "\x1b[31mred\x1b[0m"),
            ("DEL", "\x7f"),
            ("line/paragraph separators", "\u2028\u2029"),
            ("CR LF", "\r\n"),
            ("backspace, form feed", "\x08\x0c"),
            ("C1 control", "\x85\x9b"),
        )
    )
    path = rng.choice((("text",), ("author", "handle"), ("author", "display_name"), ("source_id",), ("author", "id")))
    post = good_post(rng, now, n)
    if rng.random() < 0.15:  # unescaped inside a JSON string: not JSON
        return _inline(post, ("text",), b"\x01\x1f"), True, "raw (unescaped) control bytes inside text"
    node = post
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = f"{node.get(path[-1], '')}{chars}"
    return orjson.dumps(post), False, f"{label} in {'.'.join(path)} (valid JSON escapes)"


def _surrogate_escape(rng: random.Random, now: datetime, n: int) -> Built:
    literal, reject, label = rng.choice(
        (
            (b"\\ud800", True, "lone high surrogate"),
            (b"\\udc00", True, "lone low surrogate"),
            (b"\\ud800\\ud800", True, "two high surrogates"),
            (b"\\uDEAD", True, "lone low surrogate, upper case"),
            (b"\\u00", True, "truncated \\u escape"),
            (b"\\x41", True, "\\x escape (not JSON)"),
            (b"\\ud83d\\ude00", False, "valid surrogate pair (😀)"),
            (b"\\u00e9\\u0301", False, "escaped combining mark"),
        )
    )
    post = good_post(rng, now, n)
    return _inline(post, ("text",), literal), reject, f"{label} in text"


_BUILDERS: dict[str, Builder] = {
    "invalid_utf8": _invalid_utf8,
    "truncated_json": _truncated_json,
    "deep_nesting": _deep_nesting,
    "huge_record": _huge_record,
    "non_object": _non_object,
    "empty": _empty,
    "wrong_type": _wrong_type,
    "bad_timestamp": _bad_timestamp,
    "null_field": _null_field,
    "missing_field": _missing_field,
    "extra_field": _extra_field,
    "text_too_long": _text_too_long,
    "date_out_of_range": _date_out_of_range,
    "unknown_source": _unknown_source,
    "javascript_url": _javascript_url,
    "nan_infinity": _nan_infinity,
    "duplicate_keys": _duplicate_keys,
    "long_string": _long_string,
    "control_chars": _control_chars,
    "surrogate_escape": _surrogate_escape,
}
assert tuple(_BUILDERS) == CATEGORIES


def bad_record(rng: random.Random, now: datetime, n: int) -> Fuzzed:
    """One hostile record: a category from `CATEGORIES`, each equally likely, then one variant of it.

    `should_reject` says whether `streams.core.intake.parse_post(raw, now)` must return `Rejected`; it follows
    from how the record was built. Some hostile-looking records are valid Posts (NUL in the text, a handle of
    exactly 200 characters, a repeated key whose last value is good) and are marked `should_reject=False`.

    Scenario: `bad_record(random.Random(1), now, 1)` -> Fuzzed(raw=b"[]", category="non_object",
    should_reject=True, detail="empty array"), and the same again for a fresh `random.Random(1)`;
    `random.Random(6)` -> Fuzzed(category="control_chars", should_reject=False, detail="C0 controls in
    source_id (valid JSON escapes)", raw=b'{"source":"synth","source_id":"fz-1\\u0001\\u0002\\u0003",...}').
    """
    category = rng.choice(CATEGORIES)
    raw, reject, detail = _BUILDERS[category](rng, now, n)
    return Fuzzed(raw=raw, category=category, should_reject=reject, detail=detail)


def mixed_stream(
    seed: int,
    n_good: int,
    n_bad: int,
    now: datetime,
    *,
    duplicate_share: float = 0.05,
    redelivery_share: float = 0.02,
    mentions: Sequence[str] = BRAND_MENTIONS,
) -> list[Fuzzed]:
    """A deterministic, shuffled mix of `n_good` valid posts, `n_bad` hostile records and duplicates.

    Good posts are Fuzzed(category="good", should_reject=False, detail=<post id>), with ids "synth:fz-0" to
    f"synth:fz-{n_good - 1}"; bad records use n = n_good, n_good + 1, ... so their (valid) ids never collide
    with the good ones. Then, each placed somewhere after its original:

    - `duplicate_share * n_good` (at least one) exact copies of good posts: the same bytes;
    - `redelivery_share * n_good` (at least one) redeliveries: same source, source_id, created_at and author,
      higher engagement counts, so different bytes.

    Both are category "duplicate", should_reject=False: valid, but a post must be counted once downstream.

    Scenario: `mixed_stream(42, 100, 50, now)` -> 150 + 5 + 2 = 157 records, in the same order with the
    same bytes on every call; 100 distinct post ids among the "good" and "duplicate" records.
    """
    rng = random.Random(seed)
    goods: list[tuple[dict, Fuzzed]] = []
    for i in range(n_good):
        post = good_post(rng, now, i, mentions=mentions)
        goods.append((post, Fuzzed(orjson.dumps(post), "good", False, f"synth:{post['source_id']}")))
    items = [f for _, f in goods] + [bad_record(rng, now, n_good + j) for j in range(n_bad)]
    rng.shuffle(items)
    if not goods:
        return items
    position = {id(item): i for i, item in enumerate(items)}
    extra: list[tuple[int, int, Fuzzed]] = []
    n_dup = max(1, round(duplicate_share * n_good))
    n_redelivery = max(1, round(redelivery_share * n_good))
    for k in range(n_dup + n_redelivery):
        post, original = goods[rng.randrange(n_good)]
        if k < n_dup:
            dup = Fuzzed(original.raw, "duplicate", False, f"exact duplicate of {original.detail}")
        else:
            changed = {**post, "engagement": dict(post.get("engagement") or {})}
            for key in ("likes", "reposts", "replies", "quotes"):
                changed["engagement"][key] = changed["engagement"].get(key, 0) + rng.randint(1, 50)
            dup = Fuzzed(
                orjson.dumps(changed), "duplicate", False, f"redelivery of {original.detail} (engagement changed)"
            )
        extra.append((rng.randint(position[id(original)] + 1, len(items)), k, dup))
    extra.sort(key=lambda e: (e[0], e[1]))
    out: list[Fuzzed] = []
    e = 0
    for i in range(len(items) + 1):
        while e < len(extra) and extra[e][0] == i:
            out.append(extra[e][2])
            e += 1
        if i < len(items):
            out.append(items[i])
    return out
