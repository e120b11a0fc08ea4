"""The Mastodon source's rules: which streams to read, which public statuses to keep, how the streams add up to
the source's state, and which backoff an error calls for. Pure functions and plain data (Mastodon.py is only
imported to tell its errors apart)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from schemas.source_health import SourceState
from streams.sources.mastodon_status import newest

# -- what to read --------------------------------------------------------------------------------------------


def watched_hashtags(targets) -> list[str]:
    """The hashtags to stream, once each whatever their case, without "#", in the order of the watch file.

    Scenario: targets with hashtags ("nordair",), ("NordAir", "fjordbank") -> ["nordair", "fjordbank"]."""
    seen: dict[str, str] = {}
    for target in targets:
        for tag in target.hashtags:
            tag = tag.strip().lstrip("#")
            if tag:
                seen.setdefault(tag.casefold(), tag)
    return list(seen.values())


@dataclass
class Channel:
    """One stream: a hashtag's (`tag` set) or the public one (statuses filtered here)."""

    name: str
    tag: str | None = None
    #: the newest status id this channel has seen (stream or backfill)
    newest: str | None = None
    #: a lower bound of what this channel's current connection can have delivered: the source's newest id, or the
    #: id of a little before the connection opened, whichever is newer (the saved cursor before the first one)
    mark: str | None = None
    state: SourceState = "connecting"
    detail: str = ""
    connections: int = 0
    response: object | None = field(default=None, repr=False)

    @property
    def public(self) -> bool:
        return self.tag is None

    def since(self) -> str | None:
        """Where a backfill starts: nothing after this channel's newest status, nor after the source's newest id
        when the connection that just ended opened, can have reached this channel.

        Scenario: newest "120", mark "100" -> "120"; newest None (a quiet hashtag), mark "100" -> "100"."""
        return newest(self.newest, self.mark)


def snowflake_at(epoch_s: float) -> str:
    """The smallest Mastodon status id of a moment: ids are milliseconds since 1970 shifted left by 16 bits (plus
    a sequence). Scenario: snowflake_at(1_700_000_000) -> "111411200000000000": every status created after that
    second has a larger id."""
    return str(int(epoch_s * 1000) << 16)


def channels_for(tags: list[str], *, public: bool) -> list[Channel]:
    """Scenario: ["nordair", "fjordbank"], public -> channels "hashtag:nordair", "hashtag:fjordbank", "public"."""
    out = [Channel(f"hashtag:{t}", tag=t) for t in tags]
    if public:
        out.append(Channel("public"))
    return out


def wanted_filter(matcher, tags: list[str]) -> Callable[[object, Mapping], bool]:
    """Whether a status from the public stream is about something watched: a brand, competitor or key person as
    the worker's matcher sees it, or one of the watched hashtags among the status's tags (a status both streams
    deliver must be kept whichever comes first)."""
    folded = {t.casefold() for t in tags}

    def wanted(post, status: Mapping) -> bool:
        if matcher.brands(post.text) or matcher.key_people(post.author.handle, post.text):
            return True
        shown = status.get("reblog") if isinstance(status.get("reblog"), Mapping) else status
        for tag in shown.get("tags") or ():
            if isinstance(tag, Mapping) and isinstance(tag.get("name"), str) and tag["name"].casefold() in folded:
                return True
        return False

    return wanted


def overall_state(channels: list[Channel]) -> tuple[SourceState, str]:
    """The source's state from its streams': connected only when every one is; else the worst of them
    (rate_limited, then backoff, then connecting), with the details of those not connected.

    Scenario: hashtag:nordair connected, public backoff "public: connection refused; again in 4 s" ->
    ("backoff", "public: connection refused; again in 4 s")."""
    rank = {"rate_limited": 3, "backoff": 2, "failed": 2, "connecting": 1, "starting": 1, "connected": 0}
    worst = max(channels, key=lambda c: rank.get(c.state, 1), default=None)
    if worst is None or worst.state == "connected":
        return "connected", ""
    detail = "; ".join(c.detail or f"{c.name}: {c.state}" for c in channels if c.state != "connected")
    return worst.state, detail[:500]


def instance_host(base_url: str) -> str:
    """The instance's host name, for local accounts' addresses and for logs (never credentials or a port):
    "https://user:pw@mastodon.social:443/" -> "mastodon.social"."""
    return urlsplit(base_url).hostname or ""


# -- errors --------------------------------------------------------------------------------------------------


def classify(exc: BaseException) -> str:
    """Which backoff schedule an error calls for: "rate_limited" (429), "http" (the server answered with an
    error) or "network" (no answer, a reset, a timeout, a stream cut short).

    Scenario: MastodonRatelimitError -> "rate_limited"; MastodonNetworkError("Could not connect to streaming
    server: Service Unavailable") -> "http"; requests' ConnectionError -> "network"."""
    from mastodon.errors import MastodonAPIError, MastodonNetworkError, MastodonRatelimitError

    if isinstance(exc, MastodonRatelimitError) or "Too Many Requests" in str(exc):
        return "rate_limited"
    if isinstance(exc, MastodonNetworkError) and "Could not connect to streaming server" in str(exc):
        return "http"  # Mastodon.py's words for a non-200 answer to the stream request
    if isinstance(exc, MastodonAPIError) and not isinstance(exc, MastodonNetworkError):
        return "http"
    return "network"


def describe(exc: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """A short, credential-free reason for logs and the health report: describe(RuntimeError("Bearer abc"),
    ("abc",)) -> "RuntimeError: Bearer ***"."""
    text = f"{type(exc).__name__}: {exc}"
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:300]
