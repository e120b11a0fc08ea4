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
    #: the record's headers, (name, value) in order; a post has none
    headers: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def from_faust(cls, message) -> LogRecord:
        """From a faust Message, whose timestamp is in seconds."""
        return cls(
            message.topic,
            message.partition,
            message.offset,
            int(message.timestamp * 1000),
            message.key,
            message.value,
            _headers(message.headers),
        )

    @classmethod
    def from_aiokafka(cls, record) -> LogRecord:
        """From an aiokafka ConsumerRecord, whose timestamp is in milliseconds."""
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.timestamp,
            record.key,
            record.value,
            _headers(record.headers),
        )

    def header(self, name: str) -> bytes | None:
        """The first value of the header `name`, None when the record has none."""
        return next((value for key, value in self.headers if key == name), None)


def _headers(headers) -> tuple[tuple[str, bytes], ...]:
    """faust gives a list of pairs or a mapping, aiokafka a sequence of pairs; None or empty -> ()."""
    if not headers:
        return ()
    pairs = headers.items() if hasattr(headers, "items") else headers
    return tuple((str(k), bytes(v) if v is not None else b"") for k, v in pairs)
