"""The live push route's stream: one shared Redis subscription fanned out to a bounded number of streams, each
with a bounded inbox; coalescing, keep-alives, slow and vanished browsers. Redis is a real redis-server."""

from __future__ import annotations

import socket
import time
import uuid

import orjson
import pytest
import redis
from flask import Flask

from dashboards import live_stream
from dashboards.live_stream import (
    CLIENT_NAME,
    ChangeHub,
    Coalescer,
    Inbox,
    Notice,
    Peer,
    _Stream,
    parse_notice,
    stream_response,
    subscriber_client,
)
from tests.fixtures.workers import wait_until

# -- pure parts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "notice"),
    [
        (b'{"brand": "nordair", "alerts": true, "written_ms": 1}', Notice("nordair", True)),
        (b'{"brand": "nordair", "buckets": [1], "raw_timestamps_ms": [2]}', Notice("nordair", False)),
        ('{"brand": "skyline", "alerts": false}', Notice("skyline", False)),
        (b"not json", None),
        (b'{"x": 1}', None),
        (b'["nordair"]', None),
        (b'{"brand": 3}', None),
    ],
)
def test_parse_notice(data, notice):
    assert parse_notice(data) == notice


def frame(text: str | None) -> dict | None:
    assert text is not None and text.startswith("data: ") and text.endswith("\n\n"), text
    return orjson.loads(text.removeprefix("data: "))


def test_coalescer_merges_brands_ors_alerts_and_paces():
    pacer = Coalescer(now=0.0, per_second=4, keepalive_s=15)
    assert not pacer.due(0.0) and pacer.wait_s(0.0) == 15
    pacer.add(Notice("nordair"))
    assert frame(pacer.take(0.0)) == {"brands": ["nordair"], "alerts": False}
    pacer.add(Notice("skyline"))
    pacer.add(Notice("nordair", alerts=True))
    assert pacer.take(0.2) is None
    assert pacer.wait_s(0.2) == pytest.approx(0.05)
    assert frame(pacer.take(0.25)) == {"brands": ["nordair", "skyline"], "alerts": True}
    assert pacer.take(15.0) is None
    assert pacer.take(15.25) == ": keepalive\n\n"
    pacer.add(Notice(None, alerts=True))  # a resync after the subscription came back
    assert frame(pacer.take(15.5)) == {"brands": [], "alerts": True}


def test_coalescer_sends_at_most_per_second_frames():
    pacer = Coalescer(now=0.0, per_second=4, keepalive_s=15)
    sent = []
    for step in range(1000):  # a notice every millisecond for a second
        now = step / 1000
        pacer.add(Notice(f"b{step % 7}"))
        if (text := pacer.take(now)) is not None:
            sent.append(frame(text))
    assert len(sent) == 4
    assert all(f["brands"] for f in sent)


def test_inbox_keeps_the_newest_and_never_waits_to_put():
    inbox = Inbox(size=3)
    started = time.monotonic()
    for i in range(10):
        inbox.put(Notice(f"b{i}"))
    assert time.monotonic() - started < 0.1
    assert inbox.take(0) == [Notice("b7"), Notice("b8"), Notice("b9")]
    assert inbox.dropped == 7
    started = time.monotonic()
    assert inbox.take(0.2) == []
    assert 0.15 < time.monotonic() - started < 1
    inbox.close()
    started = time.monotonic()
    assert inbox.take(5) == []
    assert time.monotonic() - started < 0.1


def test_peer_sees_a_closed_socket_and_a_full_one():
    ours, theirs = socket.socketpair()
    peer = Peer(ours)
    assert not peer.gone() and peer.writable()
    ours.setblocking(False)
    try:
        while True:
            ours.send(b"x" * 65536)
    except BlockingIOError:
        pass
    assert not peer.writable()
    theirs.close()
    assert peer.gone()
    ours.close()


def test_peer_without_a_socket_says_still_there():
    peer = Peer(None)
    assert not peer.gone() and peer.writable()


# -- with a real redis-server -------------------------------------------------------------------------


@pytest.fixture
def hub_factory(redis_client):
    hubs: list[ChangeHub] = []

    def make(max_streams: int = 4, inbox_size: int = 64) -> ChangeHub:
        hub = ChangeHub(subscriber_client(redis_client), f"t{uuid.uuid4().hex[:8]}:changes", max_streams, inbox_size)
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        hub.stop()  # its thread ends within LISTEN_WAIT_S, on its own


def publish(client: redis.Redis, hub: ChangeHub, brand: str, alerts: bool = False) -> None:
    client.publish(hub.channel, orjson.dumps({"brand": brand, "alerts": alerts, "written_ms": 0}))


def collect(inbox: Inbox, count: int, timeout: float) -> list[Notice]:
    got: list[Notice] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got += inbox.take(0.1)
    return got


def subscribers(client: redis.Redis, hub: ChangeHub) -> int:
    return dict(client.pubsub_numsub(hub.channel)).get(hub.channel.encode(), 0)


redis_needed = pytest.mark.integration  # a real redis-server (the session fixture)


@redis_needed
def test_one_subscription_fans_out_to_every_stream(redis_client, hub_factory):
    hub = hub_factory(max_streams=5)
    inboxes = [hub.open() for _ in range(5)]
    wait_until(hub.connected.is_set, 5, "the hub's subscription")
    assert subscribers(redis_client, hub) == 1
    named = [c for c in redis_client.client_list() if c["name"] == CLIENT_NAME]
    assert len(named) >= 1  # other tests' hubs may still be closing; this channel has exactly one subscriber

    started = time.monotonic()
    publish(redis_client, hub, "nordair", alerts=True)
    for inbox in inboxes:
        assert collect(inbox, 1, 2) == [Notice("nordair", True)]
    assert time.monotonic() - started < 1


@redis_needed
def test_streams_beyond_the_bound_are_refused_until_one_closes(hub_factory):
    hub = hub_factory(max_streams=2)
    first, second = hub.open(), hub.open()
    assert first is not None and second is not None
    assert hub.open() is None
    hub.release(first)
    hub.release(first)  # twice is harmless
    assert hub.open_streams == 1
    assert hub.open() is not None
    assert hub.open() is None


@redis_needed
def test_a_slow_stream_drops_old_notices_and_holds_up_no_other(redis_client, hub_factory):
    hub = hub_factory(max_streams=2, inbox_size=8)
    slow, quick = hub.open(), hub.open()
    wait_until(hub.connected.is_set, 5, "the hub's subscription")
    got = []
    for batch in range(50):  # the quick browser keeps up; the slow one reads nothing
        for i in range(batch * 4, batch * 4 + 4):
            publish(redis_client, hub, f"b{i}")
        got += collect(quick, 4, 2)
    assert [n.brand for n in got] == [f"b{i}" for i in range(200)]
    assert [n.brand for n in slow.take(0)] == [f"b{i}" for i in range(192, 200)]
    assert slow.dropped == 192


@redis_needed
def test_the_hub_subscribes_again_after_redis_drops_it(redis_client, hub_factory):
    hub = hub_factory()
    inbox = hub.open()
    wait_until(hub.connected.is_set, 5, "the hub's subscription")
    redis_client.client_kill_filter(_type="pubsub")
    resync = collect(inbox, 1, 10)
    assert resync == [Notice(None, alerts=True)], "a stream is told that it may have missed something"
    wait_until(lambda: subscribers(redis_client, hub) == 1, 5, "the subscription back")
    publish(redis_client, hub, "nordair")
    assert collect(inbox, 1, 2) == [Notice("nordair")]


@redis_needed
def test_pings_keep_a_quiet_subscription_and_an_unanswered_one_is_made_again(
    redis_client, hub_factory, monkeypatch, caplog
):
    monkeypatch.setattr(live_stream, "PING_S", 0.2)
    monkeypatch.setattr(live_stream, "SILENT_S", 1.0)
    hub = hub_factory()
    inbox = hub.open()
    wait_until(hub.connected.is_set, 5, "the hub's subscription")
    assert inbox.take(2.5) == [], "the pongs keep a quiet subscription"
    assert hub.connected.is_set()

    redis_client.client_pause(2500)  # Redis answers nothing: the hub gives up on that connection
    resync = collect(inbox, 1, 15)
    assert resync == [Notice(None, alerts=True)]
    assert "no answer for 1 s" in caplog.text
    publish(redis_client, hub, "nordair")
    assert collect(inbox, 1, 2) == [Notice("nordair")]


@redis_needed
def test_a_hub_without_redis_keeps_its_streams_and_retries(hub_factory):
    dead = redis.Redis.from_url("redis://127.0.0.1:1/0")
    hub = ChangeHub(subscriber_client(dead), "nowhere", max_streams=2)
    inbox = hub.open()
    time.sleep(1.5)
    assert not hub.connected.is_set()
    assert not inbox.closed and hub.open_streams == 1
    started = time.monotonic()
    hub.stop(wait_s=5)
    assert time.monotonic() - started < 5 and inbox.closed
    assert hub.open() is None


@redis_needed
def test_stop_ends_every_stream_at_once(redis_client, hub_factory):
    hub = hub_factory()
    stream = iter(_Stream(hub, hub.open(), Peer(None)))
    assert next(stream) == "retry: 2000\n\n"
    started = time.monotonic()
    live_stream.stop_all()
    assert list(stream) == []
    assert time.monotonic() - started < 1
    assert hub.open_streams == 0


@redis_needed
def test_the_stream_coalesces_and_keeps_alive(redis_client, hub_factory, monkeypatch):
    monkeypatch.setattr(live_stream, "KEEPALIVE_S", 1.0)
    hub = hub_factory()
    stream = iter(_Stream(hub, hub.open(), Peer(None)))
    assert next(stream) == "retry: 2000\n\n"
    wait_until(hub.connected.is_set, 5, "the hub's subscription")

    started = time.monotonic()
    publish(redis_client, hub, "nordair")
    assert frame(next(stream)) == {"brands": ["nordair"], "alerts": False}
    assert time.monotonic() - started < 1
    for brand, alerts in [("skyline", False), ("nordair", True), ("skyline", False)]:
        publish(redis_client, hub, brand, alerts)
    assert frame(next(stream)) == {"brands": ["nordair", "skyline"], "alerts": True}
    assert time.monotonic() - started >= 1 / live_stream.NOTICES_PER_SECOND

    quiet = time.monotonic()
    assert next(stream) == ": keepalive\n\n"
    assert 0.8 < time.monotonic() - quiet < 2
    stream.close()
    assert hub.open_streams == 0


@redis_needed
def test_a_vanished_browser_frees_its_slot_promptly(hub_factory):
    hub = hub_factory(max_streams=1)
    ours, theirs = socket.socketpair()
    stream = iter(_Stream(hub, hub.open(), Peer(ours)))
    assert next(stream) == "retry: 2000\n\n"
    theirs.close()
    started = time.monotonic()
    assert list(stream) == []
    assert time.monotonic() - started < live_stream.PEER_CHECK_S + 0.5
    assert hub.open_streams == 0
    ours.close()


@redis_needed
def test_a_browser_that_takes_nothing_loses_its_stream(hub_factory, monkeypatch):
    monkeypatch.setattr(live_stream, "KEEPALIVE_S", 0.2)
    monkeypatch.setattr(live_stream, "STALL_S", 1.0)
    hub = hub_factory(max_streams=1)
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    try:
        while True:
            ours.send(b"x" * 65536)  # the browser's buffers are full: it stopped reading
    except BlockingIOError:
        pass
    stream = iter(_Stream(hub, hub.open(), Peer(ours)))
    assert next(stream) == "retry: 2000\n\n"
    started = time.monotonic()
    assert list(stream) == []  # nothing written: a write would have blocked
    assert 0.9 < time.monotonic() - started < 3
    assert hub.open_streams == 0
    ours.close()
    theirs.close()


@redis_needed
def test_the_route_answers_503_with_retry_after_beyond_the_bound_and_retry_when_stopping(hub_factory):
    hub = hub_factory(max_streams=1)
    app = Flask(__name__)
    app.add_url_rule("/live/changes", view_func=lambda: stream_response(hub))
    client = app.test_client()

    first = client.get("/live/changes", buffered=False)
    assert first.status_code == 200 and first.mimetype == "text/event-stream"
    assert first.headers["Cache-Control"] == "no-cache"
    refused = client.get("/live/changes")
    assert refused.status_code == 503
    assert int(refused.headers["Retry-After"]) > 0
    first.close()  # never read: closing it still frees the slot
    assert hub.open_streams == 0
    again = client.get("/live/changes", buffered=False)
    assert again.status_code == 200
    assert next(again.response) == b"retry: 2000\n\n"
    again.close()
    assert hub.open_streams == 0

    hub.stop()  # a stopping server: an empty stream that says "ask again in 2 s" (a 503 would end EventSource)
    stopping = client.get("/live/changes")
    assert stopping.status_code == 200 and stopping.data == b"retry: 2000\n\n"
