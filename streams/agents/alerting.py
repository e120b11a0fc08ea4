"""The alert engine's agent: `lytte.signals` and `lytte.actions` in; alerts, incidents, notifications out, and
operators' sentiment corrections forwarded to posts.raw (`streams.core.correction`).

Both topics have one partition, so exactly one worker runs the engine and the dispatcher at a time (faust
assigns co-subscribed topics with the same partition count together), and the engine's table (one
partition too) moves with them. The agent only moves data: `streams.alerts.engine.AlertEngine` decides
alerts and incidents on event time, `streams.alerts.dispatch.Dispatcher` decides notifications on the wall
clock, `streams.notify.sender.Sender` delivers them, recording every step on `lytte.deliveries`.

Durability:
- the engine's state is saved in its table (`alert-engine`, compressed chunks: `engine_snapshot`) with the
  last signals offset it applied; after a restart, the signals between that offset and where faust resumes
  are read from the log (`fill_gaps`), so every signal is applied exactly once;
- the dispatcher's state is rebuilt from the alerts, actions and deliveries topics when the worker takes
  the partition over; pending deliveries resume with their webhook ids.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import faust

from schemas.alerts import Action, Alert, Delivery, Incident
from schemas.settings import Settings
from schemas.signals import Signal
from schemas.topics import Topic
from schemas.watch import WatchConfig
from streams.agents import engine_snapshot
from streams.agents.durable_table import apply_local, changelog_record
from streams.agents.gaps import GapReader, fill_gaps
from streams.agents.redis_sink import RedisSink, ViewWriter
from streams.alerts.dispatch import Dispatcher
from streams.alerts.dispatch import rebuild as rebuild_dispatcher
from streams.alerts.engine import AlertEngine
from streams.core import correction
from streams.core.batch import Deadletter, failure_reason
from streams.core.intake import Rejected
from streams.core.log_record import LogRecord
from streams.notify.sender import Sender

log = logging.getLogger(__name__)

#: the engine's state is saved at most this often (and whenever it changed an alert)
SNAPSHOT_EVERY_S = 5.0
#: the dispatcher's clock
TICK_S = 0.5
#: signals and actions handled per batch: the engine's state is saved once per batch at most
BATCH_MAX = 200
BATCH_WITHIN_S = 0.05


class Alerting:
    """Wires the engine, the dispatcher and the sender into a faust app (see the module docstring)."""

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        watch: WatchConfig,
        send: Callable[..., Awaitable],
        deadletter: Callable[[Deadletter], Awaitable],
        perform: Callable[[str, list], Awaitable[None]],
        sink: RedisSink,
        view: ViewWriter,
        compaction: dict,
    ) -> None:
        self.app, self.watch = app, watch
        self._send, self._deadletter, self._perform = send, deadletter, perform
        self._sink, self._view = sink, view
        prefix = settings.topic_prefix
        self.names = {
            t: t.name(prefix)
            for t in (Topic.SIGNALS, Topic.ACTIONS, Topic.ALERTS, Topic.INCIDENTS, Topic.DELIVERIES, Topic.POSTS_RAW)
        }
        self.raw_partitions = settings.partitions
        self.topic = app.topic(
            self.names[Topic.SIGNALS], self.names[Topic.ACTIONS], key_serializer="raw", value_serializer="raw"
        )
        self.table = app.Table("alert-engine", key_type=str, partitions=1, extra_topic_configs=compaction)
        self.engine = AlertEngine(watch)
        self.dispatcher: Dispatcher | None = None
        self.sender = Sender(watch.alerts, self._record_delivery, external_url=watch.alerts.external_url)
        self.reader = GapReader(settings.bootstrap)
        self._saved_at, self._saved_offset, self._generation = 0.0, -1, -1
        self._lock = asyncio.Lock()
        self.table.on_recover(self._recovered)
        app.agent(self.topic, name="alert-engine")(self._agent)
        app.timer(TICK_S)(self._tick)
        app.on_before_shutdown.connect(self._close)

    async def _close(self, app: faust.App, **kwargs) -> None:
        """On the way out: the sender's attempts end (bounded; what is pending resumes in the next owner) and
        the log reader closes."""
        await self.sender.close()
        await self.reader.close()

    # ---- ownership and recovery -----------------------------------------------------------------------

    def owned(self) -> bool:
        return any(tp.topic == self.names[Topic.SIGNALS] for tp in self.app.consumer.assignment())

    async def _recovered(self) -> None:
        state, self._generation = engine_snapshot.decode(self.table.data)
        self.engine = AlertEngine.from_state(self.watch, state)
        self.dispatcher = None  # rebuilt from the topics on the next batch or tick

    async def _dispatcher(self) -> tuple[Dispatcher | None, bool]:
        """The dispatcher, rebuilt from the alerts, incidents, actions and deliveries topics the first time
        (and whether it was just rebuilt); None while those topics cannot be read (tried again next tick: the
        alerts wait in their topic meanwhile)."""
        if self.dispatcher is not None:
            return self.dispatcher, False
        try:
            alerts = await self._read_all(Topic.ALERTS, Alert)
            incidents_ = await self._read_all(Topic.INCIDENTS, Incident)
            actions = [a for a, _ in await self._read_all(Topic.ACTIONS, Action)]
            deliveries = [d for d, _ in await self._read_all(Topic.DELIVERIES, Delivery)]
        except Exception as exc:
            log.warning("alerting: the dispatcher cannot be rebuilt yet (%s); trying again", failure_reason(exc))
            return None, False
        sent = list({d.webhook_id: d.notification for d in deliveries if d.notification is not None}.values())
        self.dispatcher = rebuild_dispatcher(
            self.watch.alerts, alerts, actions, sent, datetime.now(UTC), incidents=incidents_
        )
        self.sender.resume(deliveries)
        log.info(
            "alerting: dispatcher rebuilt from %d alerts, %d incidents, %d actions, %d deliveries",
            len(alerts),
            len(incidents_),
            len(actions),
            len(deliveries),
        )
        return self.dispatcher, True

    async def _read_all(self, topic: Topic, model) -> list[tuple]:
        """Every record of one of the engine's topics, with the time it was written (the dispatcher's clock)."""
        name = self.names[topic]
        ends = await self.reader.end_offsets(name, [0])
        if ends is None:  # rebuilding from nothing would forget what was sent and what is pending
            raise RuntimeError(f"{name}: end offsets not read")
        records = await self.reader.read(name, 0, range(0, ends[0]))
        out = []
        for r in records:
            if r.value is None:
                continue
            try:
                out.append((model.model_validate_json(r.value), datetime.fromtimestamp(r.timestamp_ms / 1000, UTC)))
            except ValueError as exc:
                log.warning("%s@%d: not a %s (%s); skipped", name, r.offset, model.__name__, exc)
        return out

    # ---- the agent ------------------------------------------------------------------------------------

    async def _agent(self, stream: faust.StreamT) -> None:
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            async with self._lock:
                await self.handle([LogRecord.from_faust(e.message) for e in events])

    async def handle(self, records: list[LogRecord]) -> None:
        """Apply a batch of signals and actions; write what it caused; then notify. A record that cannot be
        read or applied goes to the deadletter topic with the reason, and the batch goes on."""
        signals_name = self.names[Topic.SIGNALS]
        signals = [r for r in records if r.topic == signals_name]
        actions = [r for r in records if r.topic != signals_name]
        applied = self.engine.applied_offset
        signals = await fill_gaps(self.reader, signals, lambda _p: applied if applied >= 0 else None)
        out: list = []
        failed: list[Deadletter] = []
        for r in signals:
            try:
                out += self.engine.apply(Signal.model_validate_json(r.value), r.offset)
            except Exception as exc:  # one signal must never stop the engine
                self.engine.applied_offset = max(self.engine.applied_offset, r.offset)
                failed.append(Deadletter(r, failure_reason(exc)))
        parsed_actions, forwards = [], []
        for r in actions:
            try:
                action = Action.model_validate_json(r.value)
                if action.kind == "resolve" and action.brand and action.fingerprint:
                    out += self.engine.resolve_by_hand(action.brand, action.fingerprint, action.by, action.reason)
                elif action.kind == "resolve" and action.brand and action.incident:
                    out += self.engine.resolve_incident_by_hand(action.brand, action.incident, action.by, action.reason)
                forwarded = correction.forward(action, self.raw_partitions)
                if isinstance(forwarded, Rejected):
                    failed.append(Deadletter(r, forwarded.reason))
                elif forwarded is not None:
                    forwards.append(forwarded)
                parsed_actions.append(action)
            except Exception as exc:
                failed.append(Deadletter(r, failure_reason(exc)))
        await self._write(out, failed, forwards)
        dispatcher, rebuilt = await self._dispatcher()
        if dispatcher is not None and not rebuilt:  # a rebuilt one has read these records from the topics
            await self._dispatch(lambda now: _feed(dispatcher, out, parsed_actions, now))
        if out or parsed_actions:
            await self._write_view(out + parsed_actions)

    async def _dispatch(self, decide: Callable[[datetime], list]) -> None:
        """Submit what the dispatcher decides. If deciding fails, the dispatcher is dropped and rebuilt from the
        topics at the next tick (the alerts, incidents and actions it missed are in them): the engine goes on."""
        try:
            notifications = decide(datetime.now(UTC))
        except Exception as exc:
            log.warning("alerting: the dispatcher failed (%s); rebuilding it from the topics", failure_reason(exc))
            self.dispatcher = None
            return
        for n in notifications:
            await self.sender.submit(n)

    async def _write_view(self, records: list) -> None:
        firing = [a for b in self.engine.brands.values() for a in b.alerts.active.values()]
        status = self.sender.status()
        await self._view.write(lambda: self._sink.write_alerts(records, firing, status))

    async def _write(self, out: list, failed: list[Deadletter] = (), forwards: list[correction.Forward] = ()) -> None:
        """Alerts and incidents to their topics, records that failed to the deadletter topic, operators'
        sentiment corrections to the posts.raw partitions that counted their posts, and the engine's state when
        due, all before the batch is acknowledged."""
        sends = [self._deadletter(d) for d in failed]
        raw = self.names[Topic.POSTS_RAW]
        sends += [self._send(raw, f.key, f.value, f.partition, headers=list(f.headers)) for f in forwards]
        for record in out:
            topic = Topic.ALERTS if isinstance(record, Alert) else Topic.INCIDENTS
            sends.append(self._send(self.names[topic], record.brand.encode(), record.model_dump_json().encode(), 0))
        saving = bool(out) or self._snapshot_due()
        writes = engine_snapshot.encode(self.engine.state(), self._generation + 1, self.table.data) if saving else []
        for key, value in writes:
            topic, key_bytes, value_bytes = changelog_record(self.table, key, value)
            sends.append(self._send(topic, key_bytes, value_bytes, 0))
        if sends:
            await self._perform("alerts", sends)
        if saving:
            for key, value in writes:
                apply_local(self.table, key, value)
            self._generation += 1
            self._saved_at, self._saved_offset = time.monotonic(), self.engine.applied_offset

    def _snapshot_due(self) -> bool:
        return self.engine.applied_offset > self._saved_offset and time.monotonic() - self._saved_at >= SNAPSHOT_EVERY_S

    async def _tick(self) -> None:
        if not self.owned() or self.app.rebalancing:
            return
        async with self._lock:
            dispatcher, _ = await self._dispatcher()
            if dispatcher is not None:
                await self._dispatch(dispatcher.tick)
            if self._snapshot_due():  # the last signals of a quiet spell are saved too
                await self._write([])

    async def _record_delivery(self, delivery: Delivery) -> None:
        name = self.names[Topic.DELIVERIES]
        await self._perform(
            "delivery", [self._send(name, delivery.webhook_id.encode(), delivery.model_dump_json().encode(), 0)]
        )


def _feed(dispatcher: Dispatcher, records: list, actions: list[Action], now: datetime) -> list:
    """The notifications a batch's alerts, incidents and actions make the dispatcher decide, in that order."""
    notifications = []
    for record in records:
        if isinstance(record, Alert):
            notifications += dispatcher.on_alert(record, now)
        elif isinstance(record, Incident):
            notifications += dispatcher.on_incident(record, now)
    for action in actions:
        notifications += dispatcher.on_action(action, now)
    return notifications
