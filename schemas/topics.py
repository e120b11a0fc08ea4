"""Kafka topic names. Every topic name is `<prefix>.<suffix>`; the prefix comes from settings so that
several installations (or test runs) can share one cluster."""

from enum import StrEnum


class Topic(StrEnum):
    POSTS_RAW = "posts.raw"
    POSTS_SCORED = "posts.scored"
    METRICS = "metrics"
    DEADLETTER = "deadletter"
    SIGNALS = "signals"
    ALERTS = "alerts"
    INCIDENTS = "incidents"
    ACTIONS = "actions"
    DELIVERIES = "deliveries"
    #: every source's `schemas.source_health.SourceReport`, key = the source's name
    SOURCES = "sources"

    def name(self, prefix: str) -> str:
        return f"{prefix}.{self.value}"

    @property
    def single_partition(self) -> bool:
        """The alert engine's topics have one partition: one engine sees every brand and every raw partition's
        event time, and Alertmanager's grouping, inhibition and silences need one dispatcher. Their volume is
        per batch and per alert, not per post, so one partition keeps up with any stream."""
        return self in _ENGINE_TOPICS


_ENGINE_TOPICS = frozenset({Topic.SIGNALS, Topic.ALERTS, Topic.INCIDENTS, Topic.ACTIONS, Topic.DELIVERIES})


#: Headers put on every deadletter record (the Kafka Connect DLQ convention: the bytes stay as they came).
DEADLETTER_REASON = "lytte.reason"
DEADLETTER_TOPIC = "lytte.source.topic"
DEADLETTER_PARTITION = "lytte.source.partition"
DEADLETTER_OFFSET = "lytte.source.offset"

#: Header on a posts.raw record that is not a post, naming what it is. The one kind: an operator's
#: `correct_sentiment` action (`schemas.alerts.Action` JSON), forwarded by the alert agent to the raw partition
#: that counted the post, so that it reaches the post's bucket in log order with the posts
#: (`streams.core.correction`).
RECORD_KIND = "lytte.record"
RECORD_KIND_ACTION = b"action"
