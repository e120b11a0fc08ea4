from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.notify.retry import (
    DELIVERY_WINDOW_S,
    MAX_ATTEMPTS,
    MAX_RETRY_AFTER_S,
    SCHEDULE_S,
    Verdict,
    backoff_s,
    classify,
    retry_after_s,
)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status):
    assert classify(status, {}, None) == Verdict("delivered", None, f"HTTP {status}")


def test_410_disables():
    verdict = classify(410, {"Retry-After": "5"}, None)
    assert verdict.kind == "disabled" and verdict.after_s is None and "410" in verdict.reason


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 599])
def test_408_429_and_5xx_are_retried(status):
    assert classify(status, {}, None).kind == "retry"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 413, 422, 451])
def test_other_4xx_fail_without_retry(status):
    verdict = classify(status, {"Retry-After": "5"}, None)
    assert verdict.kind == "failed" and "not retried" in verdict.reason


@pytest.mark.parametrize("status", [300, 301, 302, 303, 304, 307, 308])
def test_a_redirect_that_reaches_classify_is_a_failure(status):
    assert classify(status, {}, None).kind == "failed"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (None, "ConnectError: connection refused"),
        (None, "timeout: no answer within 10 s"),
        (None, None),
        (0, None),
        (999, None),
        (101, None),
    ],
)
def test_no_answer_and_garbage_are_retried(status, error):
    verdict = classify(status, {}, error)
    assert verdict.kind == "retry"
    if error:
        assert verdict.reason == error


def test_retry_after_in_seconds_is_honoured_and_capped():
    assert classify(429, {"Retry-After": "120"}, None).after_s == 120.0
    assert classify(503, {"retry-after": " 7 "}, None).after_s == 7.0
    assert classify(429, {"Retry-After": "86400"}, None).after_s == MAX_RETRY_AFTER_S
    assert classify(429, {"Retry-After": "soon"}, None).after_s is None
    assert classify(429, {"Retry-After": "-5"}, None).after_s is None
    assert classify(429, {}, None).after_s is None


def test_retry_after_as_an_http_date_counts_from_the_date_header_then_from_now():
    headers = {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT", "Date": "Wed, 21 Oct 2015 07:27:30 GMT"}
    assert retry_after_s(headers) == 30.0
    now = datetime(2015, 10, 21, 7, 26, 0, tzinfo=UTC)
    assert retry_after_s({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now) == 120.0
    assert retry_after_s({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None  # no reference: ignored
    assert retry_after_s({"Retry-After": "Wed, 21 Oct 2015 07:00:00 GMT"}, now) == 0.0  # in the past: at once
    assert classify(503, {"Retry-After": "Wed, 21 Oct 2015 09:28:00 GMT"}, None, now=now).after_s == MAX_RETRY_AFTER_S


def test_backoff_follows_svix_schedule_with_equal_jitter():
    rng = random.Random(7)
    for attempt, wait in enumerate(SCHEDULE_S, start=1):
        got = backoff_s(attempt, rng)
        assert got is not None and wait / 2 <= got <= wait
    assert backoff_s(len(SCHEDULE_S) + 1, rng) is None
    assert MAX_ATTEMPTS == 8
    assert DELIVERY_WINDOW_S == 5 + 300 + 1800 + 7200 + 18000 + 36000 + 36000
    with pytest.raises(ValueError):
        backoff_s(0, rng)


@given(st.integers(min_value=1, max_value=len(SCHEDULE_S)), st.integers(min_value=0, max_value=2**32))
def test_backoff_is_within_half_and_all_of_the_scheduled_wait(attempt, seed):
    wait = SCHEDULE_S[attempt - 1]
    got = backoff_s(attempt, random.Random(seed))
    assert got is not None and wait / 2 <= got <= wait


@given(st.integers(min_value=0, max_value=2**32))
def test_the_schedule_outlasts_a_ten_minute_and_a_five_hour_outage(seed):
    """Before the schedule runs out, attempts reach past 10 minutes (third or fourth attempt) and past 5 hours."""
    rng = random.Random(seed)
    elapsed, times = 0.0, [0.0]
    attempt = 1
    while (wait := backoff_s(attempt, rng)) is not None:
        elapsed += wait
        times.append(elapsed)
        attempt += 1
    assert len(times) == MAX_ATTEMPTS
    assert any(t >= 600 for t in times[:4])
    assert times[-1] >= 5 * 3600
    assert times[-1] <= DELIVERY_WINDOW_S


def test_jitter_spreads_workers_that_failed_together():
    waits = {round(backoff_s(3, random.Random(seed)), 3) for seed in range(50)}
    assert len(waits) > 40
