"""The dashboard's Kafka reader: bounded, and "unreachable" rather than stale numbers when Kafka is gone."""

import socket
import time

from dashboards.data import RawOffsets, stalled_for_s
from schemas.pipeline import PartitionCounters, pipeline_status
from schemas.records import BucketMetrics
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


def test_a_refresh_parses_only_the_partials_that_changed():
    from datetime import UTC, datetime

    from dashboards.data import BrandBuckets
    from schemas.records import BucketMetrics

    def partial(minute: int, partition: int, posts: int) -> tuple[bytes, bytes]:
        start = datetime.fromtimestamp(minute * 60, UTC)
        m = BucketMetrics(brand="b", bucket_start=start, raw_partition=partition, posts=posts)
        return f"{minute * 60}:{partition}".encode(), m.model_dump_json().encode()

    fields = dict(partial(m, p, m + p) for m in (10, 11, 12) for p in (0, 1))
    first = BrandBuckets().refreshed("a", fields, {})
    assert [b.posts for b in first.merged] == [21, 23, 25]
    changed = dict(fields) | dict([partial(12, 1, 100)])
    second = first.refreshed("b", changed, {})
    assert [b.posts for b in second.merged] == [21, 23, 112]
    assert second.partials[b"600:0"] is first.partials[b"600:0"]  # not parsed again
    assert second.minutes[600] is first.minutes[600] and second.minutes[720] is not first.minutes[720]
    assert [b.posts for b in second.refreshed("c", dict(list(changed.items())[2:]), {}).merged] == [23, 112]


def test_the_day_chart_takes_the_last_hours_from_the_buckets_and_the_rest_from_the_day_hash():
    """The day hash is read now and then; between reads, the minutes the buckets hold are counted from them, so
    that a new post shows on the day chart at once."""
    from datetime import UTC, datetime

    import orjson

    from dashboards.data import BrandBuckets

    def partial(minute: int, posts: int, negative: int) -> tuple[bytes, bytes]:
        start = datetime.fromtimestamp(minute * 60, UTC)
        m = BucketMetrics(brand="b", bucket_start=start, raw_partition=0, posts=posts, negative=negative)
        return f"{minute * 60}:0".encode(), m.model_dump_json().encode()

    def day_field(minute: int, posts: int, negative: int) -> tuple[bytes, bytes]:
        return f"{minute * 60}:0".encode(), orjson.dumps([posts, posts, 0, 0, 0, negative, 0])

    day = dict([day_field(5, 7, 1), day_field(10, 3, 0)])  # minute 10 as the day hash had it when read
    first = BrandBuckets().refreshed("a", dict([partial(10, 4, 2)]), day, now=100.0)
    assert first.day == {5: (7, 1), 10: (4, 2)} and first.day_read_at == 100.0
    second = first.refreshed("b", dict([partial(10, 4, 2), partial(11, 1, 1)]))  # the day hash not read again
    assert second.day == {5: (7, 1), 10: (4, 2), 11: (1, 1)} and second.day_read_at == 100.0


def test_a_redis_that_accepts_and_never_answers_fails_the_wall_read_within_its_bound(monkeypatch):
    """A hung Redis (connected, silent) must not hold a server thread: the wall's read fails in time."""
    import threading

    import pytest
    import redis

    from dashboards import data

    monkeypatch.setattr(data, "REDIS_TIMEOUT_S", 0.5)

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        accepted: list[socket.socket] = []
        threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
        settings = Settings(redis_url=f"redis://127.0.0.1:{server.getsockname()[1]}/0")
        view = data.LiveView(settings, raw=RawOffsets(settings))
        started = time.monotonic()
        with pytest.raises(redis.RedisError):
            view.wall()
        assert time.monotonic() - started < 3
        for conn in accepted:
            conn.close()


def test_day_totals_from_the_last_read_equal_adding_everything_up_again():
    """Fields changed, added and removed (a minute's last field gone drops the minute) between two reads."""
    import orjson
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from dashboards.data import day_totals

    day_fields = st.dictionaries(
        st.tuples(st.integers(0, 30), st.integers(0, 3)).map(lambda mp: f"{600 + 60 * mp[0]}:{mp[1]}".encode()),
        st.tuples(st.integers(0, 50), st.integers(0, 50)).map(lambda c: orjson.dumps([c[0], 0, 0, 0, 0, c[1], 0])),
        max_size=40,
    )

    @settings(max_examples=300, deadline=None)
    @given(day_fields, day_fields)
    def check(before, after):
        assert day_totals(after, before, day_totals(before)) == day_totals(after)

    check()
    assert day_totals(
        {b"600:0": orjson.dumps([3, 0, 0, 0, 0, 1, 0]), b"600:1": orjson.dumps([2, 0, 0, 0, 0, 0, 0])}
    ) == {10: (5, 1)}
