from schemas.pipeline import PartitionCounters
from streams.core.counters import count


def test_counts_each_outcome_once():
    c, counted = count(PartitionCounters(), 0, "matched", scored_records=2, event_time_s=100, now_ms=5)
    assert counted and (c.posts_in, c.matched, c.scored_records) == (1, 1, 2)
    c, counted = count(c, 0, "matched", scored_records=2)
    assert not counted and c.posts_in == 1
    c, _ = count(c, 1, "matched", duplicate=True, event_time_s=50, now_ms=7)
    c, _ = count(c, 2, "unmatched")
    c, _ = count(c, 3, "deadlettered")
    c, _ = count(c, 4, "correction", now_ms=6)
    assert c.model_dump() == {
        "last_offset": 4,
        "posts_in": 4,
        "matched": 2,
        "unmatched": 1,
        "deadlettered": 1,
        "duplicates": 1,
        "scored_records": 2,
        "corrections": 1,  # an operator's correction is a record, not a post in
        "handled_ms": 7,
        "event_time_s": 100,  # the watermark never goes back
    }
    assert c.posts_in == c.matched + c.unmatched + c.deadlettered


def test_a_tally_counts_as_count_applied_in_turn():
    from streams.core.counters import Tally

    records = [
        (0, "matched", 2, False),
        (1, "matched", 0, True),
        (1, "unmatched", 0, False),
        (3, "deadlettered", 0, 0),
        (4, "correction", 0, 0),
    ]
    state, tally = PartitionCounters(), Tally(PartitionCounters())
    for i, (offset, outcome, scored, duplicate) in enumerate(records):
        extra = {"scored_records": scored, "duplicate": duplicate, "event_time_s": i, "now_ms": 9}
        state, counted = count(state, offset, outcome, **extra)
        assert tally.add(offset, outcome, **extra) == counted
    assert tally.counters() == state
