"""What every live source shares: sending posts, deadlettering what it cannot parse, its health report, its
resume cursor and its secrets. A source module (`streams.sources.x`, `.mastodon`, ...) only speaks its
provider's protocol and turns payloads into Posts; it hands them to a `SourceRuntime`.

- `post(post)` sends to posts.raw (the key is the author; the worker counts a post once by `Post.id`, source
  plus provider id, so a repeat after a reconnect or a backfill is harmless);
- `reject(payload, reason)` sends the payload as it came to the deadletter topic with the reason, and counts it;
- `heartbeat()` records a sign of life (keep-alive, another person's event), `set_state()` the connection;
- a thread writes the `SourceReport` every `source_report_s` to Redis and the sources topic; Redis or Kafka
  being away never stops the source (the next report tries again);
- `cursor` / `save_cursor` keep where to resume in Redis (`{prefix}:source:{name}:cursor`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

import redis
from confluent_kafka import KafkaException

from schemas import topics
from schemas.records import Post
from schemas.redis_keys import RedisKeys
from schemas.settings import Settings
from schemas.source_health import SourceReport, SourceState
from schemas.topics import Topic
from schemas.watch import WatchConfig
from streams.redis_client import bounded_redis
from streams.sources.producer import PostProducer

log = logging.getLogger(__name__)

REDIS_TIMEOUT_S = 2.0
#: a source that stops waits this long for Kafka to take what it sent (a broker away: the source still stops)
CLOSE_FLUSH_S = 30.0


class SourceStopped(Exception):
    """Raised by `SourceRuntime.sleep` when the source is asked to stop."""


def now_ms() -> int:
    return int(time.time() * 1000)


class MinuteRate:
    """Events in the last 60 s, in one-second slots (bounded whatever the rate).

    Scenario: 3 events at t=0 s, 2 at t=30 s -> 5 at t=59 s; 2 at t=61 s; 0 at t=95 s."""

    def __init__(self) -> None:
        self._slots: deque[list[int]] = deque()  # [second, count], oldest first

    def add(self, at_ms: int, n: int = 1) -> None:
        second = at_ms // 1000
        if self._slots and self._slots[-1][0] == second:
            self._slots[-1][1] += n
        else:
            self._slots.append([second, n])
        self._trim(second)

    def count(self, at_ms: int) -> int:
        self._trim(at_ms // 1000)
        return sum(n for _, n in self._slots)

    def _trim(self, second: int) -> None:
        while self._slots and self._slots[0][0] <= second - 60:
            self._slots.popleft()


@dataclass(frozen=True)
class Target:
    """One thing to listen for, from the watch configuration: a brand, a competitor or a key person."""

    id: str
    role: str  # "brand", "competitor" or "key_person"
    phrases: tuple[str, ...]  # names and aliases, as written
    handles: tuple[str, ...]  # without "@"
    hashtags: tuple[str, ...]  # without "#"


def listen_targets(watch: WatchConfig) -> list[Target]:
    """What a source asks its provider for, derived from the watch configuration.

    Scenario: brand nordair (name "Nordair", aliases ["Nord Air"], handles ["@nordair"], hashtags ["#nordair"])
    and key person @janedoe -> [Target("nordair", "brand", ("Nordair", "Nord Air"), ("nordair",), ("nordair",)),
    Target("janedoe", "key_person", (), ("janedoe",), ())]."""
    out = []
    for role, items in (("brand", watch.brands), ("competitor", watch.competitors)):
        for w in items:
            out.append(
                Target(
                    id=w.id,
                    role=role,
                    phrases=tuple(dict.fromkeys([w.name, *w.aliases])),
                    handles=tuple(h.lstrip("@") for h in w.handles),
                    hashtags=tuple(h.lstrip("#") for h in w.hashtags),
                )
            )
    for p in watch.key_people:
        handle = p.handle.lstrip("@")
        out.append(Target(id=handle, role="key_person", phrases=(), handles=(handle,), hashtags=()))
    return out


class SourceRuntime:
    def __init__(
        self, name: str, settings: Settings, *, producer: PostProducer | None = None, push: bool = False
    ) -> None:
        self.name = name
        self.push = push
        self.settings = settings
        self.keys = RedisKeys(settings.redis_prefix)
        self.producer = producer or PostProducer(settings)
        self._deadletter_topic = Topic.DEADLETTER.name(settings.topic_prefix)
        self._sources_topic = Topic.SOURCES.name(settings.topic_prefix)
        self.redis = bounded_redis(settings, REDIS_TIMEOUT_S)
        self._lock = threading.Lock()
        self._state: SourceState = "starting"
        self._detail = ""
        self._heartbeat_ms = 0
        self._last_event_ms = 0
        self._events = MinuteRate()
        self._unmatched = MinuteRate()
        self.sent = 0
        self.reconnects = 0
        self.gaps = 0
        self.deadlettered = 0
        self._stop = threading.Event()
        self._reporter: threading.Thread | None = None

    # -- what a source calls --------------------------------------------------------------------------

    def post(self, post: Post) -> None:
        if self._stop.is_set():
            raise SourceStopped
        self.producer.send(post)
        t = now_ms()
        with self._lock:
            self.sent += 1
            self._last_event_ms = self._heartbeat_ms = t
            self._events.add(t)

    def reject(self, payload: bytes | str, reason: str) -> None:
        """The payload as it came goes to the deadletter topic; the source goes on."""
        value = payload.encode() if isinstance(payload, str) else payload
        log.warning("%s: deadletter: %s", self.name, reason)
        headers = [
            (topics.DEADLETTER_REASON, reason.encode()),
            (topics.DEADLETTER_TOPIC, f"source:{self.name}".encode()),
        ]
        # keyed by the source, so that one source's deadletters stay in one partition, in the order they came
        self.producer.send_to(self._deadletter_topic, self.name.encode(), value, headers)
        with self._lock:
            self.deadlettered += 1

    def heartbeat(self) -> None:
        with self._lock:
            self._heartbeat_ms = now_ms()

    def unmatched(self, n: int = 1) -> None:
        """Events the provider sent that match nothing watched: a sign of life, not a post."""
        t = now_ms()
        with self._lock:
            self._heartbeat_ms = t
            self._unmatched.add(t, n)

    def set_state(self, state: SourceState, detail: str = "") -> None:
        with self._lock:
            changed = state != self._state
            self._state, self._detail = state, detail
        if changed:
            log.info("%s: %s%s", self.name, state, f" ({detail})" if detail else "")
            self.write_report()

    def reconnected(self) -> None:
        with self._lock:
            self.reconnects += 1

    def gap(self, detail: str) -> None:
        """The source cannot be sure it missed nothing (e.g. resumed without a cursor): counted and logged."""
        log.warning("%s: possible gap: %s", self.name, detail)
        with self._lock:
            self.gaps += 1

    def wait(self, seconds: float) -> bool:
        """Sleep, waking early on stop; True if the source should stop."""
        return self._stop.wait(seconds)

    def sleep(self, seconds: float) -> None:
        """Sleep, or raise SourceStopped as soon as the source is asked to stop (for loops that cannot check)."""
        if self._stop.wait(max(0.0, seconds)):
            raise SourceStopped

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def secret(self, name: str) -> str | None:
        return self.settings.secret(name)

    # -- resume cursor --------------------------------------------------------------------------------

    @property
    def cursor(self) -> str | None:
        try:
            value = self.redis.get(self.keys.source_cursor(self.name))
        except redis.RedisError as exc:
            log.warning("%s: cannot read the resume cursor (%s)", self.name, exc)
            return None
        return value.decode() if value is not None else None

    def save_cursor(self, value: str) -> bool:
        try:
            self.redis.set(self.keys.source_cursor(self.name), value)
            return True
        except redis.RedisError as exc:
            log.warning("%s: cannot save the resume cursor (%s)", self.name, exc)
            return False

    # -- the report -----------------------------------------------------------------------------------

    def report(self) -> SourceReport:
        t = now_ms()
        with self._lock:
            return SourceReport(
                source=self.name,
                state=self._state,
                reported_ms=t,
                heartbeat_ms=self._heartbeat_ms,
                last_event_ms=self._last_event_ms,
                events_per_min=self._events.count(t),
                unmatched_per_min=self._unmatched.count(t),
                reconnects=self.reconnects,
                gaps=self.gaps,
                deadlettered=self.deadlettered,
                detail=self._detail,
                push=self.push,
            )

    def write_report(self) -> None:
        value = self.report().model_dump_json()
        try:
            self.redis.hset(self.keys.sources, self.name, value)
        except redis.RedisError as exc:
            log.warning("%s: cannot write the health report to Redis (%s)", self.name, exc)
        try:
            self.producer.send_to(self._sources_topic, self.name.encode(), value.encode(), block=False)
        except Exception as exc:  # a report is never worth stopping the source for
            log.warning("%s: cannot send the health report (%s)", self.name, exc)

    def _report_loop(self) -> None:
        while not self._stop.wait(self.settings.source_report_s):
            self.write_report()

    # -- life cycle -----------------------------------------------------------------------------------

    def start(self) -> SourceRuntime:
        self.write_report()
        self._reporter = threading.Thread(target=self._report_loop, name=f"{self.name}-report", daemon=True)
        self._reporter.start()
        return self

    def stop(self) -> None:
        """Ask the source to stop (from a signal handler or a test); `close` flushes and writes the last report."""
        self._stop.set()

    def close(self) -> None:
        self._stop.set()
        if self._reporter is not None:
            self._reporter.join(timeout=5)
        with self._lock:
            self._state = "stopped"
        self.write_report()
        try:
            self.producer.close(CLOSE_FLUSH_S)
        except KafkaException as exc:  # the source's cursor was never saved past what is still undelivered
            log.error("%s: stopping with posts undelivered: %s", self.name, exc)
        self.redis.close()

    def __enter__(self) -> SourceRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_source(name: str, settings: Settings, body, *, push: bool = False) -> None:
    """Run `body(runtime)` until it returns or SIGTERM / SIGINT asks the source to stop; the runtime is closed
    (posts flushed, a last "stopped" report written) either way. `body` must return soon after
    `runtime.stopping` turns true (every wait through `runtime.wait` or `runtime.sleep`); `runtime.post` and
    `runtime.sleep` raise `SourceStopped` once it is, which ends the body quietly. `push`: the provider calls
    us (webhooks), so silence while listening is no mentions, not an outage."""
    import signal

    runtime = SourceRuntime(name, settings, push=push)

    def stop(*_: object) -> None:
        runtime.stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with runtime, contextlib.suppress(SourceStopped):
            body(runtime)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
