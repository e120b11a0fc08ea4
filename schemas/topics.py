"""Kafka topic names. Every topic name is `<prefix>.<suffix>`; the prefix comes from settings so that
several installations (or test runs) can share one cluster."""

from enum import StrEnum


class Topic(StrEnum):
    POSTS_RAW = "posts.raw"
    POSTS_SCORED = "posts.scored"
    METRICS = "metrics"
    DEADLETTER = "deadletter"

    def name(self, prefix: str) -> str:
        return f"{prefix}.{self.value}"


#: Headers put on every deadletter record (the Kafka Connect DLQ convention: the bytes stay as they came).
DEADLETTER_REASON = "lytte.reason"
DEADLETTER_TOPIC = "lytte.source.topic"
DEADLETTER_PARTITION = "lytte.source.partition"
DEADLETTER_OFFSET = "lytte.source.offset"
