"""X's documented reconnect schedules, as the policy hands them out."""

from streams.sources.x_reconnect import Outcome, ReconnectPolicy

NETWORK = Outcome("network", "network error")
CLOSED = Outcome("closed", "X closed the stream")


def http(status: int) -> Outcome:
    return Outcome("http", f"HTTP {status}", status)


def test_network_errors_back_off_linearly_by_250_ms_up_to_16_s():
    policy = ReconnectPolicy()
    waits = [policy.after(NETWORK).seconds for _ in range(70)]
    assert waits[:4] == [0.25, 0.5, 0.75, 1.0]
    assert waits[63] == 16.0 and waits[62] == 15.75 and set(waits[63:]) == {16.0}


def test_http_errors_back_off_exponentially_from_5_s_up_to_320_s():
    policy = ReconnectPolicy()
    assert [policy.after(http(503)).seconds for _ in range(8)] == [5, 10, 20, 40, 80, 160, 320, 320]


def test_429_backs_off_from_60_s_doubling_and_says_rate_limited():
    policy = ReconnectPolicy()
    waits = [policy.after(http(429)) for _ in range(6)]
    assert [w.seconds for w in waits] == [60, 120, 240, 480, 960, 960]
    assert {w.state for w in waits} == {"rate_limited"}
    assert policy.after(http(503)).seconds == 5  # HTTP errors keep their own schedule


def test_a_delivered_line_starts_every_schedule_over():
    policy = ReconnectPolicy()
    for outcome in (NETWORK, NETWORK, http(503), http(429)):
        policy.after(outcome)
    policy.delivered()
    assert policy.after(CLOSED).seconds == 0.25
    assert policy.after(http(500)).seconds == 5
    assert policy.after(http(429)).seconds == 60


def test_stream_error_messages_back_off_like_http_errors_and_disconnects_like_network_drops():
    policy = ReconnectPolicy()
    assert policy.after(Outcome("stream_error", "X says: Invalid Request")).seconds == 5
    assert policy.after(Outcome("closed", "X says: operational-disconnect")).seconds == 0.25
    assert policy.after(Outcome("exception", "KeyError")).seconds == 10
