"""Reading a whole topic with kafka-python, bounded: assign + seek, no consumer group, so that no live
consumer group is touched (the way `lytte alerts`, the bench and the tests read the engine's small topics)."""

from __future__ import annotations

import time

from schemas.settings import Settings


class TopicReadTimeout(TimeoutError):
    pass


def read_all(
    settings: Settings,
    topic: str,
    timeout_s: float = 10.0,
    client_id: str = "lytte-read",
    deadline_s: float | None = None,
) -> list:
    """Every record of `topic` (kafka-python ConsumerRecords: .key, .value, .timestamp, .offset, ...), partition
    by partition in offset order; a topic that does not exist reads as empty. Each request to Kafka is bounded
    by `timeout_s`; the whole read by `deadline_s` (default: `timeout_s`), past which TopicReadTimeout."""
    from kafka import KafkaConsumer, TopicPartition

    timeout_ms = int(timeout_s * 1000)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap,
        client_id=client_id,
        group_id=None,
        enable_auto_commit=False,
        allow_auto_create_topics=False,
        bootstrap_timeout_ms=timeout_ms,
        request_timeout_ms=timeout_ms,
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps, timeout_ms=timeout_ms)
        records: list = []
        budget = timeout_s if deadline_s is None else deadline_s
        deadline = time.monotonic() + budget
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise TopicReadTimeout(f"{topic}: not read within {budget:.0f} s")
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close(autocommit=False, timeout_ms=1000)
