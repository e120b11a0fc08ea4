"""The dashboard's Kafka reader: bounded, and "unreachable" rather than stale numbers when Kafka is gone."""

import socket
import time

from dashboards.data import RawOffsets, stalled_for_s
from schemas.pipeline import PartitionCounters, pipeline_status
from schemas.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_kafka_reads_as_none_within_the_wait_and_then_at_once():
    raw = RawOffsets(Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}"))
    raw.REQUEST_TIMEOUT_MS = 1000
    started = time.monotonic()
    assert raw.read({}, 0, 30_000) is None
    assert time.monotonic() - started < RawOffsets.WAIT_S + 0.5
    started = time.monotonic()
    assert raw.read({}, 0, 30_000) is None  # the refresh is still running, or backing off: no second wait
    assert time.monotonic() - started < 0.2


def test_stalled_for_uses_the_later_of_last_handle_and_first_waiting_record():
    now = 1_000_000
    handled = {0: PartitionCounters(last_offset=4, posts_in=5, handled_ms=now - 100_000)}
    status = pipeline_status({0: 9}, handled, now, {0: now - 40_000})
    assert stalled_for_s(status, {0: now - 40_000}, now) == 40
    assert stalled_for_s(status, {}, now) == 100
    assert stalled_for_s(pipeline_status({0: 5}, {0: handled[0]}, now), {}, now) is None
