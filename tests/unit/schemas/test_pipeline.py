"""The pipeline contract: counters per raw partition, their Redis fields, totals and the stalled judgement."""

import pytest

from schemas.pipeline import (
    COUNTERS,
    STALL_AFTER_MS,
    PartitionCounters,
    counter_totals,
    partition_counters,
    pipeline_status,
)

S = 1000  # ms


def handled_through(offset: int, handled_ms: int = 0, **counts: int) -> PartitionCounters:
    posts_in = offset + 1
    return PartitionCounters(
        last_offset=offset, posts_in=posts_in, matched=counts.pop("matched", posts_in), handled_ms=handled_ms, **counts
    )


def test_as_fields_and_back_is_the_same_counters():
    counters = {
        0: PartitionCounters(last_offset=9, posts_in=10, matched=6, unmatched=3, deadlettered=1, handled_ms=5),
        3: PartitionCounters(
            last_offset=119, posts_in=120, matched=100, unmatched=20, duplicates=2, scored_records=130, event_time_s=7
        ),
    }
    fields = counters[0].as_fields(0) | counters[3].as_fields(3)
    assert fields["posts_in:3"] == 120 and fields["last_offset:0"] == 9 and fields["handled_ms:0"] == 5
    assert partition_counters(fields) == counters
    # As Redis returns them: bytes both sides.
    assert partition_counters({k.encode(): str(v).encode() for k, v in fields.items()}) == counters


def test_unknown_fields_are_ignored_and_missing_ones_default():
    parsed = partition_counters({"posts_in:0": "3", "last_offset:0": "2", "bogus": "1", "scored:1": "4", "x:y": "1"})
    assert parsed == {0: PartitionCounters(posts_in=3, last_offset=2)}


def test_totals_sum_counters_not_marks():
    totals = counter_totals(
        {
            0: PartitionCounters(last_offset=2, posts_in=3, matched=2, unmatched=1, handled_ms=100, event_time_s=9),
            1: PartitionCounters(last_offset=4, posts_in=4, deadlettered=1, unmatched=3, duplicates=1, corrections=1),
        }
    )
    assert totals == {
        "posts_in": 7,
        "matched": 2,
        "unmatched": 4,
        "deadlettered": 1,
        "duplicates": 1,
        "scored_records": 0,
        "corrections": 1,
    }
    assert set(totals) == set(COUNTERS)
    assert counter_totals({}) == dict.fromkeys(COUNTERS, 0)


def test_docstring_scenario():
    # The docstring's example has the first waiting record at t=1 s and calls it stalled at t=31 s, but by
    # its own rule ("waited longer than stall_after_ms") 30 s of waiting is not yet stalled: at t=31 s it is
    # exactly 30 s. The rule is what is pinned here: stalled from just past 30 s.
    counters = {0: handled_through(9, handled_ms=0), 1: handled_through(19, handled_ms=0)}
    ends = {0: 10, 1: 50}
    assert not pipeline_status(ends, counters, now_ms=31 * S, first_waiting_ms={1: 1 * S}).stalled
    status = pipeline_status(ends, counters, now_ms=31 * S + 1, first_waiting_ms={1: 1 * S})
    p0, p1 = status.partitions
    assert (p0.lag, p0.stalled) == (0, False)
    assert (p1.lag, p1.stalled) == (30, True)
    assert status.stalled and status.stalled_partitions == [1]
    assert (status.raw_end, status.posts_in, status.lag) == (60, 30, 30)

    still_fine = pipeline_status(ends, counters, now_ms=20 * S, first_waiting_ms={1: 1 * S})
    assert still_fine.partitions[1].lag == 30 and not still_fine.stalled and still_fine.stalled_partitions == []


def test_a_recent_handle_or_a_recent_record_keeps_it_from_stalling():
    ends = {0: 50}
    # Handled recently, though the first waiting record is old: progress is being made.
    assert not pipeline_status(ends, {0: handled_through(19, handled_ms=25 * S)}, 40 * S, {0: 1 * S}).stalled
    # Handled long ago, but the record waiting arrived only now: not waiting long yet.
    assert not pipeline_status(ends, {0: handled_through(19, handled_ms=1 * S)}, 40 * S, {0: 39 * S}).stalled
    # Without the first waiting record's time, only the last handle counts.
    assert pipeline_status(ends, {0: handled_through(19, handled_ms=1 * S)}, 40 * S).stalled


def test_nothing_waiting_is_never_stalled_however_old():
    status = pipeline_status({0: 10}, {0: handled_through(9, handled_ms=1)}, now_ms=10**13)
    assert not status.stalled and status.lag == 0 and status.last_handled_ms == 1


def test_partitions_without_counters_wait_from_the_start():
    status = pipeline_status({0: 5, 1: 0}, {}, now_ms=100 * S, first_waiting_ms={0: 90 * S})
    assert [(s.partition, s.raw_end, s.lag, s.handled.last_offset) for s in status.partitions] == [
        (0, 5, 5, -1),
        (1, 0, 0, -1),
    ]
    assert not status.stalled and status.posts_in == 0 and status.last_handled_ms == 0
    assert pipeline_status({0: 5}, {}, now_ms=100 * S, first_waiting_ms={0: 60 * S}).stalled


@pytest.mark.parametrize(("waited_s", "stalled"), [(STALL_AFTER_MS // S - 1, False), (STALL_AFTER_MS // S + 1, True)])
def test_default_threshold_and_a_shorter_one(waited_s, stalled):
    now = 1000 * S
    status = pipeline_status({0: 2}, {}, now, {0: now - waited_s * S})
    assert status.stalled is stalled
    assert pipeline_status({0: 2}, {}, now, {0: now - 3 * S}, stall_after_ms=2 * S).stalled


def test_counters_past_the_end_mean_no_lag():
    # A topic recreated under a worker's table: more handled than there is; the lag is never negative.
    status = pipeline_status({0: 3}, {0: handled_through(9)}, now_ms=10**12)
    assert status.lag == 0 and not status.stalled
