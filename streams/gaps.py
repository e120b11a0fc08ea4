"""Reading past faust: records a partition holds between two offsets, fetched straight from the log.

faust acks, and may commit, records it skips around a rebalance or a recovery without giving them to the
agent (a record fetched while flow control is paused is "skipped" and acked). An agent that remembers the
last offset it handled per partition notices the hole when the next record arrives, and reads the missing
range here (assign + seek, no consumer group) to handle it before going on. Found with the `kill -9` test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LogRecord:
    """What the agents need of a record, whether faust delivered it or the gap reader fetched it."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes

    @classmethod
    def from_faust(cls, message) -> LogRecord:
        """From a faust Message, whose timestamp is in seconds."""
        return cls(
            message.topic, message.partition, message.offset, int(message.timestamp * 1000), message.key, message.value
        )

    @classmethod
    def from_aiokafka(cls, record) -> LogRecord:
        """From an aiokafka ConsumerRecord, whose timestamp is in milliseconds."""
        return cls(record.topic, record.partition, record.offset, record.timestamp, record.key, record.value)


def missing_range(last_handled: int | None, offset: int) -> range:
    """Offsets between the last one handled and this one: (41, 45) -> 42..44; (41, 42) -> empty; a record
    read again after a rewind, (41, 30) -> empty; nothing handled yet (None, 5) -> 0..4."""
    start = 0 if last_handled is None else last_handled + 1
    return range(start, offset) if offset > start else range(0)


class GapReader:
    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap

    async def read(self, topic: str, partition: int, offsets: range) -> list[LogRecord]:
        """The records in `offsets` that the log still holds (retention may have removed the oldest)."""
        if not offsets:
            return []
        tp = TopicPartition(topic, partition)
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False, group_id=None)
        await consumer.start()
        try:
            consumer.assign([tp])
            first = max(offsets.start, (await consumer.beginning_offsets([tp]))[tp])
            if first >= offsets.stop:
                return []
            consumer.seek(tp, first)
            records: list[LogRecord] = []
            while True:
                batch = (await consumer.getmany(tp, timeout_ms=2000)).get(tp, [])
                if not batch:
                    return records  # the log ends before the range does
                for r in batch:
                    if r.offset >= offsets.stop:
                        return records
                    records.append(LogRecord.from_aiokafka(r))
        finally:
            await consumer.stop()


async def fill_gaps(
    reader: GapReader, records: list[LogRecord], last_handled: Callable[[int], int | None]
) -> list[LogRecord]:
    """The batch's records, each partition's preceded by the records missing since the last offset handled.

    Scenario: last handled 41 on partition 0, a batch [44, 45] -> [42, 43 (read from the log), 44, 45].
    A batch [40, 41, 42] after a rewind -> unchanged: records read again are the dedup's business.
    """
    filled: list[LogRecord] = []
    last: dict[int, int | None] = {}
    for record in records:
        p = record.partition
        if p not in last:
            last[p] = last_handled(p)
        missing = missing_range(last[p], record.offset)
        if missing:
            log.warning(
                "%s[%d]: offsets %d..%d were not delivered; reading them from the log",
                record.topic,
                p,
                missing.start,
                missing.stop - 1,
            )
            filled.extend(await reader.read(record.topic, p, missing))
        filled.append(record)
        last[p] = max(record.offset, last[p] if last[p] is not None else -1)
    return filled
