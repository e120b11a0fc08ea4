import asyncio

from streams.agents.gaps import GapReader, LogRecord, fill_gaps, missing_range


def test_missing_range():
    assert list(missing_range(41, 45)) == [42, 43, 44]
    assert not missing_range(41, 42)
    assert not missing_range(41, 30)  # read again after a rewind: not a gap
    assert list(missing_range(None, 3)) == [0, 1, 2]
    assert not missing_range(None, 0)


def rec(partition: int, offset: int) -> LogRecord:
    return LogRecord("t", partition, offset, 0, None, b"")


class LogOf(GapReader):
    """The gap reader over an in-memory log (its Kafka side is tested in tests/integration/test_gaps.py)."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, range]] = []

    async def read(self, topic, partition, offsets):
        self.asked.append((partition, offsets))
        return [rec(partition, o) for o in offsets]


def test_fill_gaps_reads_only_the_holes_per_partition():
    reader = LogOf()
    last = {0: 41, 1: 9}
    batch = [rec(0, 44), rec(1, 10), rec(0, 45), rec(1, 13)]
    filled = asyncio.run(fill_gaps(reader, batch, last.get))
    assert [(r.partition, r.offset) for r in filled] == [
        (0, 42),
        (0, 43),
        (0, 44),
        (1, 10),
        (0, 45),
        (1, 11),
        (1, 12),
        (1, 13),
    ]
    assert reader.asked == [(0, range(42, 44)), (1, range(11, 13))]


def test_records_read_again_are_not_holes():
    reader = LogOf()
    filled = asyncio.run(fill_gaps(reader, [rec(0, 40), rec(0, 41), rec(0, 42)], {0: 41}.get))
    assert [r.offset for r in filled] == [40, 41, 42] and reader.asked == []
