"""When the X source connects again, by X's documented rules for its streams.

- a keep-alive (`\\r\\n`) every 20 s; nothing at all, keep-alives included, for `STALL_S` means the
  connection is dead: drop it and reconnect;
- network errors (refused, reset, cut mid-stream, stalled) and connections that end: linear backoff, 250 ms
  more each time, up to 16 s;
- HTTP errors (5xx, 4xx) and error messages in the stream: exponential from 5 s, up to 320 s;
- HTTP 429: exponential from 60 s (each 429 lengthens X's penalty), up to 960 s;
- all three start over once a connection delivers something (a post or a keep-alive).

tweepy's `BaseStream._connect` has the same numbers, but sleeps with `time.sleep` (a stop waits up to five
minutes and tests cannot scale it), starts the network backoff at 0 s, and reconnects at once after X closes
a stream; the source therefore stops tweepy's loop at each of its hooks and waits here instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from streams.sources.backoff import Backoff

#: No data, keep-alives included, for this long: the stream has stalled (X sends a keep-alive every 20 s).
STALL_S = 90.0

OutcomeKind = Literal["network", "http", "stream_error", "closed", "exception"]


@dataclass(frozen=True)
class Outcome:
    """How one connection attempt ended. `status` for HTTP errors; `why` for the log and the health detail."""

    kind: OutcomeKind
    why: str
    status: int | None = None


@dataclass(frozen=True)
class Wait:
    seconds: float
    state: Literal["backoff", "rate_limited"]
    why: str


class ReconnectPolicy:
    """Scenarios:
    - 503, 503, 503 -> waits 5, 10, 20 s; a 429 then -> 60 s (rate_limited), another -> 120 s;
    - connection refused three times -> 0.25, 0.5, 0.75 s; after 64 more, 16 s each;
    - a stream that delivered posts and then ended (X closed it, cut it, or it stalled) -> 0.25 s;
    - an operational-disconnect message -> 0.25 s (a network-like drop); any other error message -> 5 s on;
    - after `delivered()` every schedule starts over.
    """

    def __init__(self) -> None:
        self.network = Backoff.linear_from(0.25, 16.0)
        self.http = Backoff.exponential_from(5.0, 320.0)
        self.rate_limit = Backoff.exponential_from(60.0, 960.0)

    def delivered(self) -> None:
        """The connection works (a post or a keep-alive arrived): every schedule starts over."""
        if self.network.attempts or self.http.attempts or self.rate_limit.attempts:
            self.network.reset()
            self.http.reset()
            self.rate_limit.reset()

    def after(self, outcome: Outcome) -> Wait:
        if outcome.kind == "http" and outcome.status == 429:
            return Wait(self.rate_limit.next(), "rate_limited", outcome.why)
        if outcome.kind in ("http", "stream_error", "exception"):
            return Wait(self.http.next(), "backoff", outcome.why)
        return Wait(self.network.next(), "backoff", outcome.why)
