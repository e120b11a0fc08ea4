"""Reading past faust: records a partition holds between two offsets, fetched straight from the log.

Why faust skips records (faust-streaming 0.15, `faust/transport/consumer.py`): in `_drain_messages` a
record whose offset is more than one past the last offset read from its partition is taken for a gap in
the log (compaction, transaction markers), and the offsets in between go into `_gap`, which `_new_offset`
counts as acknowledged: the next commit moves past them. Records that were fetched but never handed to
the agent leave exactly such a hole once the fetch position has moved on: `getmany` stops half-way through
a fetch when flow control stops or the consumer generation changes around a rebalance or a recovery, and
`wait_first(callback(message), suspend_flow.wait())` drops the record whose hand-over a suspension cut off.
Faust has no setting for topics without real gaps. Overriding `_add_gap` would turn the loss into a commit
that never advances, and seeking back inside the drain loop would tie lytte to faust's internals.

So each agent keeps, in its own changelog-backed state, the last offset it handled per partition, notices a
hole when the next record arrives, and reads the missing range here (assign + seek, no consumer group)
before going on. That is exact whatever the reason faust skipped, and it needs no faust internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from streams.core.log_record import LogRecord

log = logging.getLogger(__name__)


def missing_range(last_handled: int | None, offset: int) -> range:
    """Offsets between the last one handled and this one: (41, 45) -> 42..44; (41, 42) -> empty; a record
    read again after a rewind, (41, 30) -> empty; nothing handled yet (None, 5) -> 0..4."""
    start = 0 if last_handled is None else last_handled + 1
    return range(start, offset) if offset > start else range(0)


class GapReader:
    """One long-lived consumer (assign + seek, no consumer group) that reads ranges of offsets.

    Every attempt is bounded (`attempt_timeout_s`); a failed or slow attempt is logged, the consumer is
    replaced, and the read is tried again after a backoff (1 s doubling to 30 s). It keeps trying while the
    broker is away: the records are needed to count exactly, and the pipeline shows as stalled meanwhile.
    """

    def __init__(self, bootstrap: str, attempt_timeout_s: float = 30.0, max_backoff_s: float = 30.0) -> None:
        self._bootstrap = bootstrap
        self._attempt_timeout_s = attempt_timeout_s
        self._max_backoff_s = max_backoff_s
        self._consumer: AIOKafkaConsumer | None = None

    async def read(self, topic: str, partition: int, offsets: range) -> list[LogRecord]:
        """The records in `offsets` that the log still holds (retention may have removed the oldest)."""
        if not offsets:
            return []
        attempt = 0
        while True:
            attempt += 1
            try:
                return await asyncio.wait_for(self._read_once(topic, partition, offsets), self._attempt_timeout_s)
            except (TimeoutError, KafkaError, OSError) as exc:
                delay = min(self._max_backoff_s, 2 ** (attempt - 1))
                log.warning(
                    "%s[%d]: reading offsets %d..%d from the log failed (attempt %d: %s); retrying in %.0f s",
                    topic,
                    partition,
                    offsets.start,
                    offsets.stop - 1,
                    attempt,
                    type(exc).__name__ if isinstance(exc, TimeoutError) else exc,
                    delay,
                )
                await self.close()
                await asyncio.sleep(delay)

    async def end_offsets(self, topic: str, partitions: list[int]) -> dict[int, int] | None:
        """The end offsets of some partitions of a topic, in one bounded attempt; None if it failed."""
        if not partitions:
            return {}
        try:
            consumer = await asyncio.wait_for(self._started(), self._attempt_timeout_s)
            tps = [TopicPartition(topic, p) for p in partitions]
            ends = await asyncio.wait_for(consumer.end_offsets(tps), self._attempt_timeout_s)
            return {tp.partition: offset for tp, offset in ends.items()}
        except (TimeoutError, KafkaError, OSError) as exc:
            log.warning("%s: reading end offsets failed (%s)", topic, type(exc).__name__)
            await self.close()
            return None

    async def _read_once(self, topic: str, partition: int, offsets: range) -> list[LogRecord]:
        consumer = await self._started()
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        begin = (await consumer.beginning_offsets([tp]))[tp]
        end = (await consumer.end_offsets([tp]))[tp]
        first, stop = max(offsets.start, begin), min(offsets.stop, end)
        if first > offsets.start:
            log.error(
                "%s[%d]: offsets %d..%d are gone from the log (retention) and cannot be handled",
                topic,
                partition,
                offsets.start,
                first - 1,
            )
        records: list[LogRecord] = []
        if first >= stop:
            return records
        consumer.seek(tp, first)
        while await consumer.position(tp) < stop:
            for r in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                if r.offset < stop:
                    records.append(LogRecord.from_aiokafka(r))
        return records

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                enable_auto_commit=False,
                group_id=None,
                request_timeout_ms=int(self._attempt_timeout_s * 1000),
            )
            await consumer.start()
            self._consumer = consumer
        return self._consumer

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), 10)


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
