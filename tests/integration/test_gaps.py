"""The gap reader against a real broker: the records between two offsets, whatever faust delivered."""

from __future__ import annotations

import asyncio

import pytest
from kafka import KafkaProducer

from schemas.topics import Topic
from streams.gaps import GapReader

pytestmark = pytest.mark.integration


def test_reads_exactly_the_missing_offsets(services_settings):
    topic = Topic.DEADLETTER.name(services_settings.topic_prefix)  # a topic of this test's own
    producer = KafkaProducer(bootstrap_servers=services_settings.bootstrap)
    for i in range(10):
        producer.send(topic, key=b"k", value=str(i).encode(), partition=0)
    producer.flush()
    producer.close()

    reader = GapReader(services_settings.bootstrap)
    records = asyncio.run(reader.read(topic, 0, range(3, 7)))
    assert [(r.offset, r.value) for r in records] == [(3, b"3"), (4, b"4"), (5, b"5"), (6, b"6")]
    assert records[0].partition == 0 and records[0].timestamp_ms > 0
    # a range past the end of the log gives what there is
    assert [r.offset for r in asyncio.run(reader.read(topic, 0, range(8, 20)))] == [8, 9]
    assert asyncio.run(reader.read(topic, 0, range(0))) == []
