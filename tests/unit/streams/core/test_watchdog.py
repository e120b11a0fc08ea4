from streams.core.watchdog import Observation, restart_reason

S = 1000  # ms


def reason(last_progress_s: float, waiting: dict[int, int], busy_since_s: float | None = None) -> str | None:
    now = 10_000 * S
    busy = None if busy_since_s is None else now - int(busy_since_s * S)
    return restart_reason(Observation(now, now - int(last_progress_s * S), waiting, busy), 90, 600)


def test_records_waiting_and_nothing_handled_for_too_long_is_a_reason_to_start_over():
    assert reason(95, {0: 0, 2: 1200}) == "partition 2: 1200 records waiting and nothing handled for 95 s"
    assert reason(95, {1: 5, 2: 1200}).endswith("(and 1 more partitions)")


def test_a_quiet_stream_or_recent_progress_is_fine():
    assert reason(95, {0: 0, 1: 0}) is None
    assert reason(95, {}) is None
    assert reason(10, {0: 5000}) is None


def test_a_rebalance_gets_time_until_the_busy_limit():
    assert reason(500, {0: 5000}, busy_since_s=60) is None
    assert reason(700, {0: 5000}, busy_since_s=601) == "rebalancing or recovering for 601 s"
