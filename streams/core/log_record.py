"""One Kafka record as the agents' batch functions see it, whoever fetched it (faust or the gap reader)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LogRecord:
    """What the agents need of a record, whether faust delivered it or the gap reader fetched it."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None

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
