"""The health page's reads: neither an unreachable Kafka nor an unreachable Redis makes the page wait long or forget
its figures, and a listed deadletter record is found by its place."""

from __future__ import annotations

import time

from dashboards.health_data import HealthReader, KafkaHealth
from dashboards.health_model import RedisFigures, deadletter_record, lag_rows
from schemas.pipeline import PartitionCounters
from schemas.settings import Settings
from streams.local.processes import free_port

NOW = 1_795_000_000_000  # epoch ms
RAW = "lytte.posts.raw"


def test_unreachable_kafka_answers_within_the_wait_then_at_once_and_says_unreachable():
    kafka = KafkaHealth(Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}"))
    kafka.REQUEST_TIMEOUT_MS = 1000
    started = time.monotonic()
    probe, figures_ = kafka.read()
    assert time.monotonic() - started < KafkaHealth.WAIT_S + 0.5
    assert probe.reachable is not True and figures_ is None
    deadline = time.monotonic() + 15
    while kafka.read()[0].reachable is not False and time.monotonic() < deadline:
        time.sleep(0.2)
    started = time.monotonic()
    probe, _ = kafka.read()
    assert time.monotonic() - started < 0.2  # backing off: no second wait
    assert probe.reachable is False and probe.since_ms is not None and probe.error


def test_unreachable_redis_is_said_within_its_bound_and_the_last_figures_are_kept():
    reader = HealthReader(
        Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}", redis_url=f"redis://127.0.0.1:{free_port()}/0")
    )
    reader.kafka.REQUEST_TIMEOUT_MS = 1000
    reader.raw.REQUEST_TIMEOUT_MS = 1000
    kept = RedisFigures(NOW, {0: PartitionCounters(last_offset=9, posts_in=10)}, NOW, True, [], [], None)
    reader._redis_figures = kept
    started = time.monotonic()
    v = reader.read()
    assert time.monotonic() - started < HealthReader.REDIS_TIMEOUT_S + KafkaHealth.WAIT_S + 1
    assert v.redis.reachable is False and v.redis.since_ms is not None
    assert v.redis_figures is kept
    assert v.pipeline is None  # never judged: no counters from Redis now


def test_a_listed_deadletter_record_is_found_by_its_place():
    kafka = KafkaHealth(Settings(kafka_bootstrap="127.0.0.1:1"))
    record = deadletter_record(1, 7, NOW, [], None, b"{")
    kafka._kept[record.key_str] = record
    assert kafka.record(1, 7) is record
    assert kafka.record(1, 8) is None


class FakeAdmin:
    """Answers like kafka-python's admin client for one group, until `down` is set."""

    def __init__(self, group_id: str) -> None:
        self.group_id, self.down = group_id, False

    def describe_cluster(self):
        from kafka.errors import KafkaConnectionError

        if self.down:
            raise KafkaConnectionError("no broker")
        return {"brokers": [{"broker_id": 1}]}

    def list_group_offsets(self, specs):
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata

        return {self.group_id: {TopicPartition(RAW, 0): OffsetAndMetadata(7, "", -1)}}

    def describe_groups(self, ids):
        return {self.group_id: {"group_state": "Stable", "members": []}}

    def close(self):
        pass


class FakeConsumer:
    def partitions_for_topic(self, topic):
        return {0} if topic == RAW else set()

    def end_offsets(self, tps, timeout_ms=None):
        return dict.fromkeys(tps, 10)

    def beginning_offsets(self, tps, timeout_ms=None):
        return dict.fromkeys(tps, 0)

    def close(self, **kwargs):
        pass


def test_kafka_going_down_keeps_the_last_figures_and_says_since_when_then_recovers():
    class Eager(KafkaHealth):
        CACHE_S = RETRY_S = 0.0

    kafka = Eager(Settings(kafka_bootstrap="127.0.0.1:1", topic_prefix="lytte", app_id="lytte"))
    admin = FakeAdmin("lytte")
    kafka._new_clients = lambda: (admin, FakeConsumer())
    probe, figures_ = kafka.read()
    assert probe.reachable is True and probe.latency_ms is not None
    assert figures_.committed == {(RAW, 0): 7} and figures_.ends == {(RAW, 0): 10}
    assert [r.cells[4] for r in lag_rows(figures_)] == ["3", "3"]

    admin.down = True
    before = int(time.time() * 1000)
    probe, kept = kafka.read()
    assert probe.reachable is False and probe.since_ms >= before and "KafkaConnectionError" in probe.error
    assert kept is figures_  # the last known figures, for the page to show as old
    since = probe.since_ms
    assert kafka.read()[0].since_ms == since  # the spell started once

    admin.down = False
    probe, fresh = kafka.read()
    assert probe.reachable is True and probe.since_ms is None and fresh is not figures_
