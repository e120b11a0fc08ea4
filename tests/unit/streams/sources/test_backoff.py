"""Reconnect schedules: X's documented ones, capped, and reset after a good connection."""

from streams.sources.backoff import Backoff


def test_linear_for_network_errors_up_to_16_s():
    b = Backoff.linear_from(0.25, 16)
    waits = [b.next() for _ in range(70)]
    assert waits[:4] == [0.25, 0.5, 0.75, 1.0]
    assert waits[63] == 16 and waits[-1] == 16 and max(waits) == 16


def test_exponential_for_http_errors_and_rate_limits():
    b = Backoff.exponential_from(5, 320)
    assert [b.next() for _ in range(8)] == [5, 10, 20, 40, 80, 160, 320, 320]
    b = Backoff.exponential_from(60, 960)
    assert [b.next() for _ in range(4)] == [60, 120, 240, 480]
    for _ in range(1000):  # never overflows, never exceeds the cap
        assert b.next() == 960


def test_reset_starts_again_from_the_first_wait():
    b = Backoff.exponential_from(5, 320)
    b.next(), b.next()
    assert b.attempts == 2
    b.reset()
    assert b.next() == 5
