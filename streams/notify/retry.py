"""The one retry rule of webhook delivery: what an answer means, and how long to wait before the next attempt. Pure.

`classify` reads one attempt's outcome (Alertmanager's rule, plus Standard Webhooks' 410):

| outcome                                       | verdict     | what the sender does                             |
|-----------------------------------------------|-------------|--------------------------------------------------|
| 2xx (PagerDuty answers 202)                   | delivered   | next notification                                |
| 410 Gone                                      | disabled    | parks the receiver's queue until an operator     |
| 408, 429, 5xx                                 | retry       | waits `Retry-After` if given (capped at 1 h) and |
| connection refused/reset, timeout, garbage    |             | at least the backoff, then tries again           |
| 3xx (not a 307/308 the sender followed)       | failed      | records it, never retried: the URL is wrong      |
| other 4xx                                     | failed      | records it, never retried: the request is wrong  |

`backoff_s` is Svix's schedule (first attempt at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight
attempts spread over about 27.6 hours) with equal jitter: each wait is drawn uniformly between half the scheduled
wait and all of it, so a fleet of workers that failed together does not retry together. The attempts then fall at
0 s, 2.5-5 s, 2.6-5.1 min, 17.5-35 min, 1.3-2.6 h, 3.8-7.6 h, 8.8-17.6 h and 13.8-27.6 h after the first: a receiver
down for 10 minutes gets the notification at the fourth attempt, one down for a few hours at the fifth to seventh.
After the eighth attempt the schedule has run out and the notification is dead.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

#: the waits after attempts 1, 2, ... (Svix's schedule); len + 1 attempts in all
SCHEDULE_S: tuple[float, ...] = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
MAX_ATTEMPTS = len(SCHEDULE_S) + 1
#: the longest a notification may wait for delivery: the whole schedule without jitter (27 h 35 min 5 s)
DELIVERY_WINDOW_S = sum(SCHEDULE_S)
#: a Retry-After longer than this is cut to it (a receiver may not park lytte's notifications for a day)
MAX_RETRY_AFTER_S = 3600.0

VerdictKind = Literal["delivered", "retry", "failed", "disabled"]


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    #: the receiver asked to wait this long (Retry-After), when it did
    after_s: float | None
    reason: str


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def retry_after_s(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """The wait a `Retry-After` header asks for, in seconds, between 0 and `MAX_RETRY_AFTER_S`; None without one.

    Scenario: {"Retry-After": "120"} -> 120.0; {"Retry-After": "86400"} -> 3600.0; {"Retry-After": "Wed, 21 Oct
    2015 07:28:00 GMT", "Date": "Wed, 21 Oct 2015 07:27:30 GMT"} -> 30.0 (an HTTP date is measured from the
    response's own Date header, so that clock skew between lytte and the receiver does not matter; from `now`
    without one; ignored without either); {"Retry-After": "soon"} -> None.
    """
    raw = _header(headers, "retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return min(float(raw), MAX_RETRY_AFTER_S)
    try:
        until = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    reference: datetime | None = now
    date = _header(headers, "date")
    if date is not None:
        with contextlib.suppress(TypeError, ValueError, IndexError):
            reference = parsedate_to_datetime(date.strip())
    if reference is None:
        return None
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    if reference.tzinfo is None:
        reference = reference.replace(tzinfo=UTC)
    return min(max((until - reference).total_seconds(), 0.0), MAX_RETRY_AFTER_S)


def classify(
    status: int | None, headers: Mapping[str, str], error: str | None, *, now: datetime | None = None
) -> Verdict:
    """What one attempt's outcome means.

    Scenario: (200, {}, None) -> Verdict("delivered", None, "HTTP 200"); (410, ...) -> Verdict("disabled", None,
    "HTTP 410 Gone: the receiver switched this endpoint off"); (429, {"Retry-After": "30"}, None) ->
    Verdict("retry", 30.0, "HTTP 429"); (None, {}, "connection refused") -> Verdict("retry", None, "connection
    refused"); (400, {}, None) -> Verdict("failed", None, "HTTP 400: the receiver refused the request, not
    retried"); (302, ...) -> "failed" (a webhook POST is not redirected to a GET; fix the URL); (999, ...) ->
    "retry" (garbage). `now` only serves a Retry-After given as a date without a Date header.
    """
    if status is None:
        return Verdict("retry", None, error or "no response")
    if not 100 <= status <= 599:
        return Verdict("retry", None, f"garbage status {status}")
    if 200 <= status <= 299:
        return Verdict("delivered", None, f"HTTP {status}")
    if status == 410:
        return Verdict("disabled", None, "HTTP 410 Gone: the receiver switched this endpoint off")
    if status in (408, 429) or status >= 500:
        return Verdict("retry", retry_after_s(headers, now), f"HTTP {status}")
    if 300 <= status <= 399:
        return Verdict("failed", None, f"HTTP {status}: redirect not followed (only 307/308 are), fix the URL")
    if 400 <= status <= 499:
        return Verdict("failed", None, f"HTTP {status}: the receiver refused the request, not retried")
    return Verdict("retry", None, f"HTTP {status}: no final answer")  # 1xx as a final status is garbage


def backoff_s(attempt: int, rng: random.Random) -> float | None:
    """Seconds to wait after attempt number `attempt` (1 = the first) failed; None when the schedule ran out.

    Scenario: attempt 1 -> between 2.5 and 5 s; attempt 2 -> between 150 and 300 s; attempt 3 -> 900 to 1800 s;
    attempt 7 -> 18000 to 36000 s; attempt 8 -> None (eight attempts made: dead).
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    if attempt > len(SCHEDULE_S):
        return None
    wait = SCHEDULE_S[attempt - 1]
    return wait / 2 + rng.uniform(0.0, wait / 2)
