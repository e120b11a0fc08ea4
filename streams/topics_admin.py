"""Explicit topic creation with kafka-python's admin client: partitions and retention from settings.
Creating twice is harmless; the broker never creates topics by itself."""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from schemas.settings import Settings
from schemas.topics import Topic


def topic_specs(settings: Settings) -> list[NewTopic]:
    retention_ms = str(settings.retention_hours * 3600 * 1000)
    return [
        NewTopic(
            t.name(settings.topic_prefix),
            settings.partitions,
            settings.replication_factor,
            topic_configs={"retention.ms": retention_ms},
        )
        for t in Topic
    ]


def create_topics(settings: Settings) -> list[str]:
    """Create lytte's topics; return the names that were new."""
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap, client_id="lytte-admin")
    try:
        existing = set(admin.list_topics())
        missing = [s for s in topic_specs(settings) if s.name not in existing]
        created = []
        for spec in missing:
            try:
                admin.create_topics([spec])
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()


def describe_topics(settings: Settings) -> dict[str, int]:
    """Topic name -> partition count, for lytte's topics that exist."""
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap, client_id="lytte-admin")
    try:
        names = [t.name(settings.topic_prefix) for t in Topic]
        existing = set(admin.list_topics())
        described = admin.describe_topics([n for n in names if n in existing])
        return {d["name"]: len(d["partitions"]) for d in described}
    finally:
        admin.close()
