"""URLs fit to print: the password of a service URL never reaches a terminal or a log."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

MASK = "***"

#: query parameters whose values are secrets (redis-py, for one, takes `?password=` in a URL)
_SECRET_PARAM = re.compile(r"pass|pwd|secret|token|auth|key|credential", re.IGNORECASE)


def redacted_url(url: str) -> str:
    """`url` with its password and secret query values replaced by ***.

    Scenarios:
    - "redis://user:s3cret@redis:6379/0" -> "redis://user:***@redis:6379/0"
    - "redis://:s3cret@[::1]:6379/0" -> "redis://:***@[::1]:6379/0"
    - "redis://s3cret@redis:6379" -> "redis://***@redis:6379" (userinfo without a colon is often a token)
    - "redis://redis:6379/0?password=s3cret&db=1" -> "redis://redis:6379/0?password=***&db=1"
    - "redis://127.0.0.1:6390/0" -> unchanged
    - "redis://u:s3cret@[::1:6379" (malformed) -> "<url hidden: cannot parse it>"
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a malformed netloc)
    except ValueError:
        return "<url hidden: cannot parse it>"
    netloc = parts.netloc
    userinfo, at, host = netloc.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if colon else f"{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_PARAM.search(k) for k, _ in pairs):
            query = urlencode([(k, MASK if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="*")
    head = f"{parts.scheme}:" if parts.scheme else ""
    if url[len(head) :].startswith("//"):  # kept even when empty, as in unix:///run/redis.sock
        head += f"//{netloc}"
    return head + parts.path + (f"?{query}" if query else "") + (f"#{parts.fragment}" if parts.fragment else "")


def http_url(host: str, port: int, path: str = "/") -> str:
    """The http URL of a host and port, an IPv6 address in brackets.

    Scenarios: ("127.0.0.1", 8050) -> "http://127.0.0.1:8050/"; ("::1", 8050) -> "http://[::1]:8050/";
    ("localhost", 80, "/healthz") -> "http://localhost:80/healthz"."""
    return f"http://{f'[{host}]' if ':' in host else host}:{port}{path}"
