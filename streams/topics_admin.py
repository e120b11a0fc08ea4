"""Explicit topic creation with kafka-python's admin client: partitions and retention from settings.
Creating twice is harmless; the broker never creates topics by itself."""

from __future__ import annotations

import time

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
            1 if t.single_partition else settings.partitions,
            settings.replication_factor,
            topic_configs={"retention.ms": retention_ms},
        )
        for t in Topic
    ]


#: How long new topics may take to get a leader for every partition.
LEADERS_TIMEOUT_S = 60.0


class TopicsNotReady(RuntimeError):
    pass


def create_topics(settings: Settings) -> list[str]:
    """Create lytte's topics; return the names that were new. Returns once every partition of the new topics
    has a leader: a send right after creation would otherwise fail with NotLeaderForPartition until the
    broker has elected one (seconds on a busy machine), and each such send waits out the producer's timeout."""
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
        _wait_for_leaders(admin, created)
        return created
    finally:
        admin.close()


def _wait_for_leaders(admin: KafkaAdminClient, names: list[str]) -> None:
    deadline = time.monotonic() + LEADERS_TIMEOUT_S
    while names:
        described = admin.describe_topics(names)
        leaderless = sorted(d["name"] for d in described if any(p["leader_id"] < 0 for p in d["partitions"]))
        leaderless += sorted(set(names) - {d["name"] for d in described if d["partitions"]})
        if not leaderless:
            return
        if time.monotonic() > deadline:
            raise TopicsNotReady(f"no leader after {LEADERS_TIMEOUT_S:.0f} s for topics {', '.join(leaderless)}")
        time.sleep(0.2)


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
