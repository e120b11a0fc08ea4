from streams.counters import PartitionCounters, count


def test_counts_each_outcome_once():
    c, counted = count(PartitionCounters(), 0, "scored", 2)
    assert counted and (c.posts_in, c.scored) == (1, 2)
    c, counted = count(c, 0, "scored", 2)
    assert not counted and c.posts_in == 1
    c, _ = count(c, 1, "unmatched")
    c, _ = count(c, 2, "deadlettered")
    assert c.as_fields() == {"posts_in": 3, "scored": 2, "unmatched": 1, "deadlettered": 1}
