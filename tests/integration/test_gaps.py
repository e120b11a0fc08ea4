"""The gap reader against a real broker: the records between two offsets, whatever faust delivered."""

from __future__ import annotations

import asyncio

import pytest
from kafka import KafkaProducer

from schemas.topics import Topic
from streams.agents.gaps import GapReader

pytestmark = pytest.mark.integration


def test_reads_exactly_the_missing_offsets(services_settings):
    topic = Topic.DEADLETTER.name(services_settings.topic_prefix)  # a topic of this test's own
    producer = KafkaProducer(bootstrap_servers=services_settings.bootstrap)
    for i in range(10):
        producer.send(topic, key=b"k", value=str(i).encode(), partition=0)
    producer.flush()
    producer.close()

    async def reads():
        reader = GapReader(services_settings.bootstrap)
        try:
            return (
                await reader.read(topic, 0, range(3, 7)),
                await reader.read(topic, 0, range(8, 20)),  # past the end of the log: what there is
                await reader.read(topic, 0, range(0)),
            )
        finally:
            await reader.close()

    middle, tail, empty = asyncio.run(reads())
    assert [(r.offset, r.value) for r in middle] == [(3, b"3"), (4, b"4"), (5, b"5"), (6, b"6")]
    assert middle[0].partition == 0 and middle[0].timestamp_ms > 0
    assert [r.offset for r in tail] == [8, 9]
    assert empty == []


def test_a_read_that_cannot_reach_the_broker_is_bounded_and_retried(caplog):
    from streams.local.processes import free_port

    async def attempt():
        reader = GapReader(f"127.0.0.1:{free_port()}", attempt_timeout_s=1.0, max_backoff_s=0.1)
        try:
            return await asyncio.wait_for(reader.read("nowhere", 0, range(0, 5)), 5)
        finally:
            await reader.close()

    with pytest.raises(TimeoutError):
        asyncio.run(attempt())
    assert "reading offsets 0..4 from the log failed (attempt 2" in caplog.text
