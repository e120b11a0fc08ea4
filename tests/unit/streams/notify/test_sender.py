"""Delivery over real HTTP on loopback: receivers are small HTTP servers on 127.0.0.1 started by each test, that
verify every request with `standardwebhooks` and answer as scripted (200, 410, 429, 5xx, hang, garbage, close).

The SSRF guard is on in every test: the configuration's allowlist names 127.0.0.1. Long outages run in simulated
time (`SimTime`: the sender's clock and sleep, and the receivers' clock, also for signature verification), while
the HTTP is real.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import os
import random
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import orjson
import pytest
import standardwebhooks.webhooks
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from schemas.alert_config import AlertsConfig, Receiver
from schemas.alerts import Delivery, Notification
from streams.notify.retry import DELIVERY_WINDOW_S, MAX_ATTEMPTS
from streams.notify.sender import CLOSE_TIMEOUT_S, SLACK_SPACING_S, Sender
from tests.unit.streams.notify.test_payloads import make_notification

# ---- receivers -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    action: Literal["answer", "hang", "close", "garbage"] = "answer"


OK = Answer(200)
HANG = Answer(action="hang")
CLOSE = Answer(action="close")
GARBAGE = Answer(action="garbage")


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    at: datetime
    #: the configured secrets under which `standardwebhooks` verified the request
    verified_by: list[str]
    answered: int | None = None

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Hook:
    """A webhook receiver on 127.0.0.1: one request per connection, `answer(number, hit)` decides the reply."""

    def __init__(
        self,
        answer: Callable[[int, Hit], Answer] | None = None,
        secrets: list[str] | tuple[str, ...] = (),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.answer = answer or (lambda number, hit: OK)
        self.secrets = list(secrets)
        self.clock = clock
        self.hits: list[Hit] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def running(self) -> bool:
        return self._server is not None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def start(self, port: int = 0) -> Hook:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    def accepted(self) -> list[str]:
        """The webhook ids the receiver answered with a 2xx, in arrival order."""
        return [h.webhook_id for h in self.hits if h.answered is not None and 200 <= h.answered < 300]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            verified = []
            for secret in self.secrets:
                try:
                    Webhook(secret).verify(body, headers)
                    verified.append(secret)
                except WebhookVerificationError:
                    pass
            hit = Hit(request_line.split(" ")[1], headers, body, self.clock(), verified)
            self.hits.append(hit)
            answer = self.answer(len(self.hits), hit)
            if answer.action == "hang":
                await reader.read()  # until the client gives up
                return
            if answer.action == "close":
                return
            if answer.action == "garbage":
                writer.write(b"SPAM SPAM SPAM\r\n\r\n")
                await writer.drain()
                return
            hit.answered = answer.status
            extra = "".join(f"{k}: {v}\r\n" for k, v in answer.headers.items())
            writer.write(
                f"HTTP/1.1 {answer.status} X\r\nContent-Length: 2\r\nConnection: close\r\n{extra}\r\nok".encode()
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


# ---- simulated time, records, configuration ----------------------------------------------------------------------


class SimTime:
    """The sender's clock and sleep in simulated time: `sleep` moves the clock at once, runs the hooks (a receiver
    coming back at minute 2), and yields to the event loop."""

    def __init__(self) -> None:
        self.start = self.now = datetime.now(UTC).replace(microsecond=0)
        self.hooks: list[Callable[[], Awaitable[None]]] = []
        self.slept: list[float] = []

    def clock(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=max(seconds, 0.0))
        for hook in self.hooks:
            await hook()
        await asyncio.sleep(0)

    def elapsed(self) -> float:
        return (self.now - self.start).total_seconds()


@pytest.fixture
def sim(monkeypatch) -> SimTime:
    """Simulated time, also for the receivers' signature checks (their 5-minute tolerance is against it)."""
    time = SimTime()

    class SimDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return time.now if tz is not None else time.now.replace(tzinfo=None)

    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", SimDatetime)
    return time


class Log:
    """The deliveries topic: `record` appends."""

    def __init__(self) -> None:
        self.records: list[Delivery] = []

    async def __call__(self, d: Delivery) -> None:
        self.records.append(d)

    def of(self, webhook_id: str) -> list[Delivery]:
        return [d for d in self.records if d.webhook_id == webhook_id]

    def states(self, webhook_id: str) -> list[str]:
        return [d.state for d in self.of(webhook_id)]

    def state(self, webhook_id: str) -> str | None:
        states = self.states(webhook_id)
        return states[-1] if states else None

    async def wait_for(self, check: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not check():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what or check}: {[(d.webhook_id, d.state) for d in self.records]}"
                )
            await asyncio.sleep(0.005)

    def json(self) -> str:
        return "\n".join(d.model_dump_json() for d in self.records)


def webhook(name: str, url: str, **settings) -> Receiver:
    return Receiver(name=name, type="webhook", url=url, **settings)


def config(*receivers: Receiver, allow: tuple[str, ...] = ("127.0.0.1",)) -> AlertsConfig:
    return AlertsConfig(receivers=receivers, allow_hosts=allow)


def run(coro, timeout: float = 60.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def notifications(count: int, at: datetime, receiver: str = "oncall") -> list[Notification]:
    return [make_notification(receiver=receiver, created_at=at + timedelta(milliseconds=i)) for i in range(count)]


def script(*answers: Answer, then: Answer = OK) -> Callable[[int, Hit], Answer]:
    """Answer the first requests as given, every later one with `then`."""
    return lambda number, hit: answers[number - 1] if number <= len(answers) else then


# ---- signatures ---------------------------------------------------------------------------------------------------


def test_signed_delivery_verified_by_the_library_with_two_secrets_during_a_rotation(monkeypatch):
    new, old = new_secret(), new_secret()
    monkeypatch.setenv("LYTTE_TEST_SECRET", f"{new} {old}")

    async def case():
        hook = await Hook(secrets=[new, old]).start()
        log = Log()
        sender = Sender(config(webhook("oncall", hook.url(), secret_env="LYTTE_TEST_SECRET")), log)
        n = make_notification()
        try:
            await sender.submit(n)
            await log.wait_for(lambda: log.state(n.webhook_id) == "delivered")
        finally:
            await sender.close()
            await hook.stop()
        [hit] = hook.hits
        assert hit.verified_by == [new, old]  # each secret alone verifies
        assert hit.webhook_id == n.webhook_id
        assert hit.headers["webhook-signature"].count("v1,") == 2
        with pytest.raises(WebhookVerificationError):
            Webhook(new_secret()).verify(hit.body, hit.headers)
        assert orjson.loads(hit.body)["receiver"] == "oncall"
        assert hit.headers["content-type"] == "application/json"
        assert [d.state for d in log.records] == ["pending", "delivered"]
        assert log.records[0].notification == n and log.records[0].attempt == 0
        assert (log.records[1].attempt, log.records[1].status_code) == (1, 200)
        assert new not in log.json() and old not in log.json()

    run(case())


def test_a_receiver_without_a_secret_gets_unsigned_standard_webhooks_headers():
    async def case():
        hook = await Hook().start()
        log = Log()
        sender = Sender(config(webhook("oncall", hook.url())), log)
        n = make_notification()
        try:
            await sender.submit(n)
            await log.wait_for(lambda: log.state(n.webhook_id) == "delivered")
        finally:
            await sender.close()
            await hook.stop()
        [hit] = hook.hits
        assert hit.webhook_id == n.webhook_id and hit.headers["webhook-timestamp"].isdigit()
        assert "webhook-signature" not in hit.headers

    run(case())


# ---- outages and answers ------------------------------------------------------------------------------------------


def test_receiver_down_for_ten_minutes_then_back_gets_every_notification_once_in_order(sim, monkeypatch):
    """Minutes 0-2: nothing listens (connection refused); 2-10: 503; then 200. Three notifications: each webhook
    id is accepted exactly once, in submission order, every request verified by the library."""
    secret = new_secret()
    monkeypatch.setenv("LYTTE_TEST_SECRET", secret)
    port = free_port()

    async def case():
        hook = Hook(
            answer=lambda number, hit: Answer(503) if sim.elapsed() < 600 else OK, secrets=[secret], clock=sim.clock
        )

        async def comes_back() -> None:
            if sim.elapsed() >= 120 and not hook.running:
                await hook.start(port)

        sim.hooks.append(comes_back)
        log = Log()
        receiver = webhook("oncall", f"http://127.0.0.1:{port}/hook", secret_env="LYTTE_TEST_SECRET")
        sender = Sender(config(receiver), log, clock=sim.clock, sleep=sim.sleep, rng=random.Random(3))
        sent = notifications(3, sim.now)
        try:
            for n in sent:
                await sender.submit(n)
            await log.wait_for(lambda: all(log.state(n.webhook_id) == "delivered" for n in sent), what="delivered")
        finally:
            await sender.close()
            await hook.stop()

        ids = [n.webhook_id for n in sent]
        assert hook.accepted() == ids
        assert {h.webhook_id for h in hook.hits} == set(ids)  # never another id
        assert all(h.verified_by == [secret] for h in hook.hits)
        assert any(h.answered == 503 for h in hook.hits)
        assert sim.elapsed() >= 600
        head = log.of(ids[0])
        assert head[1].state == "retrying" and "ConnectError" in head[1].error and head[1].status_code is None
        assert any(d.state == "retrying" and d.status_code == 503 for d in head)
        assert all(d.notification == sent[0] for d in head if d.state == "retrying")
        # those behind the head waited: one attempt each, once the receiver was back
        assert [d.state for d in log.of(ids[1])] == ["pending", "delivered"]
        print(f"\noutage: delivered after {sim.elapsed() / 60:.1f} simulated minutes, {len(hook.hits)} requests")

    run(case())


@pytest.mark.parametrize(
    ("first", "error", "min_wait_s"),
    [
        (Answer(429, {"Retry-After": "120"}), "HTTP 429", 120.0),
        (Answer(408), "HTTP 408", 2.5),
        (Answer(500), "HTTP 500", 2.5),
        (Answer(503, {"Retry-After": "30"}), "HTTP 503", 30.0),
        (HANG, "timeout: no answer within 0.3 s", 2.5),
        (GARBAGE, "RemoteProtocolError", 2.5),
        (CLOSE, "RemoteProtocolError", 2.5),
    ],
)
def test_retried_answers_wait_then_deliver(sim, first, error, min_wait_s):
    async def case():
        hook = await Hook(answer=script(first), clock=sim.clock).start()
        log = Log()
        sender = Sender(config(webhook("oncall", hook.url(), timeout_s=0.3)), log, clock=sim.clock, sleep=sim.sleep)
        n = make_notification()
        try:
            await sender.submit(n)
            await log.wait_for(lambda: log.state(n.webhook_id) == "delivered")
        finally:
            await sender.close()
            await hook.stop()
        assert log.states(n.webhook_id) == ["pending", "retrying", "delivered"]
        retrying = log.of(n.webhook_id)[1]
        assert error in retrying.error
        assert (retrying.next_attempt_at - retrying.at).total_seconds() >= min_wait_s
        assert (hook.hits[1].at - hook.hits[0].at).total_seconds() >= min_wait_s
        assert [h.webhook_id for h in hook.hits] == [n.webhook_id, n.webhook_id]

    run(case())


def test_400_fails_without_retry_and_the_next_notification_goes_on(caplog):
    async def case():
        hook = await Hook(answer=script(Answer(400))).start()
        log = Log()
        sender = Sender(config(webhook("oncall", hook.url("/hook/T0KEN-IN-PATH"))), log)
        first, second = notifications(2, utcnow())
        try:
            with caplog.at_level(logging.WARNING):
                await sender.submit(first)
                await sender.submit(second)
                await log.wait_for(lambda: log.state(second.webhook_id) == "delivered")
        finally:
            await sender.close()
            await hook.stop()
        assert log.states(first.webhook_id) == ["pending", "failed"]
        assert log.of(first.webhook_id)[-1].status_code == 400
        assert hook.accepted() == [second.webhook_id] and len(hook.hits) == 2
        assert sender.status()["oncall"].failed == 1
        assert f"notification {first.webhook_id} to receiver oncall failed" in caplog.text
        assert "T0KEN-IN-PATH" not in caplog.text and "T0KEN-IN-PATH" not in log.json()

    run(case())


def test_500_is_retried_until_dead_and_the_window_ends_those_behind(sim, caplog):
    async def case():
        hook = await Hook(answer=lambda number, hit: Answer(500), clock=sim.clock).start()
        log = Log()
        sender = Sender(
            config(webhook("oncall", hook.url("/hook/S3CRET-PATH"))),
            log,
            clock=sim.clock,
            sleep=sim.sleep,
            rng=random.Random(11),
        )
        first, second = notifications(2, sim.now)
        try:
            with caplog.at_level(logging.WARNING):
                await sender.submit(first)
                await sender.submit(second)
                await log.wait_for(lambda: log.state(second.webhook_id) == "dead", what="both dead")
        finally:
            await sender.close()
            await hook.stop()
        assert log.states(first.webhook_id) == ["pending"] + ["retrying"] * (MAX_ATTEMPTS - 1) + ["dead"]
        assert sum(h.webhook_id == first.webhook_id for h in hook.hits) == MAX_ATTEMPTS
        dead = log.of(first.webhook_id)[-1]
        assert "retry schedule ran out after 8 attempt(s); last: HTTP 500" in dead.error
        assert (dead.at - sim.start).total_seconds() >= 5 * 3600  # the schedule lasted hours
        # the second waited behind the first; its window (counted from submission) ends it sooner
        second_dead = log.of(second.webhook_id)[-1]
        assert "delivery window" in second_dead.error
        assert (second_dead.at - sim.start).total_seconds() <= DELIVERY_WINDOW_S
        assert f"operator notice: notification {first.webhook_id} to receiver oncall is dead" in caplog.text
        assert "S3CRET-PATH" not in caplog.text and "S3CRET-PATH" not in log.json()
        assert sender.status()["oncall"].dead == 2

    run(case())


def test_410_disables_the_receiver_parks_its_queue_and_enable_resumes(caplog):
    async def case():
        hook = await Hook(answer=script(Answer(410))).start()
        log = Log()
        sender = Sender(config(webhook("oncall", hook.url())), log)
        n1, n2, n3 = notifications(3, utcnow())
        try:
            with caplog.at_level(logging.WARNING):
                await sender.submit(n1)
                await sender.submit(n2)
                await log.wait_for(lambda: log.state(n2.webhook_id) == "disabled")
            status = sender.status()["oncall"]
            assert status.disabled and status.queued == 2 and "410" in status.disabled_reason
            assert status.disabled_since is not None and status.last_status_code == 410
            await sender.submit(n3)  # parked as well
            await asyncio.sleep(0.3)
            assert len(hook.hits) == 1
            assert log.states(n3.webhook_id) == ["pending", "disabled"]
            assert "operator notice: receiver oncall (127.0.0.1) is disabled" in caplog.text
            sender.enable("oncall")
            await log.wait_for(lambda: all(log.state(n.webhook_id) == "delivered" for n in (n1, n2, n3)))
        finally:
            await sender.close()
            await hook.stop()
        assert hook.accepted() == [n1.webhook_id, n2.webhook_id, n3.webhook_id]
        assert log.states(n1.webhook_id) == ["pending", "disabled", "pending", "delivered"]
        assert not sender.status()["oncall"].disabled

    run(case())


def test_a_hanging_receiver_does_not_delay_another_receiver():
    async def case():
        stuck = await Hook(answer=lambda number, hit: HANG).start()
        fine = await Hook().start()
        log = Log()
        sender = Sender(
            config(webhook("stuck", stuck.url(), timeout_s=30), webhook("fine", fine.url())),
            log,
        )
        loop = asyncio.get_running_loop()
        try:
            await sender.submit(make_notification(receiver="stuck"))
            await log.wait_for(lambda: len(stuck.hits) == 1)
            started = loop.time()
            n = make_notification(receiver="fine")
            await sender.submit(n)
            submitted = loop.time() - started
            await log.wait_for(lambda: log.state(n.webhook_id) == "delivered", timeout=5)
            delivered = loop.time() - started
        finally:
            closing = loop.time()
            await sender.close()
            closed = loop.time() - closing
            await stuck.stop()
            await fine.stop()
        assert submitted < 0.1
        assert delivered < 1.0, f"the other receiver waited {delivered:.2f} s"
        assert fine.accepted() == [n.webhook_id]
        assert closed < CLOSE_TIMEOUT_S
        print(f"\nother receiver: delivered {delivered * 1000:.0f} ms after submit; close {closed * 1000:.0f} ms")

    run(case())


# ---- restarts -------------------------------------------------------------------------------------------------------


async def _blocked(seconds: float) -> None:
    """A worker's sleep that never ends: the worker is killed while it waits for a retry."""
    await asyncio.Event().wait()


def test_a_killed_worker_s_pending_deliveries_are_resumed_once_each(sim):
    """Worker A: the receiver answers 503, A records `retrying` for the head and waits; A is killed. Worker B
    resumes from A's records when the receiver is back: each webhook id is accepted exactly once, in order, and
    no request carries another id."""

    async def case():
        up = False
        hook = await Hook(answer=lambda number, hit: OK if up else Answer(503), clock=sim.clock).start()
        cfg = config(webhook("oncall", hook.url()))
        log_a, log_b = Log(), Log()
        a = Sender(cfg, log_a, clock=sim.clock, sleep=_blocked)
        sent = notifications(3, sim.now)
        for n in sent:
            await a.submit(n)
        await log_a.wait_for(lambda: log_a.state(sent[0].webhook_id) == "retrying")
        await a.close()  # killed: its task is cancelled in its wait
        up = True
        b = Sender(cfg, log_b, clock=sim.clock, sleep=sim.sleep)
        try:
            b.resume(log_a.records)
            await log_b.wait_for(lambda: all(log_b.state(n.webhook_id) == "delivered" for n in sent))
        finally:
            await b.close()
            await hook.stop()
        ids = [n.webhook_id for n in sent]
        assert hook.accepted() == ids
        assert {h.webhook_id for h in hook.hits} == set(ids)
        retrying = log_a.of(ids[0])[-1]
        resumed_hit = next(h for h in hook.hits if h.answered == 200)
        assert resumed_hit.at >= retrying.next_attempt_at  # B kept A's retry time
        assert log_b.of(ids[0])[-1].attempt == 2  # and its attempt count

    run(case())


def test_a_worker_killed_during_an_attempt_is_resumed_with_the_same_id():
    async def case():
        hook = await Hook(answer=script(HANG)).start()
        cfg = config(webhook("oncall", hook.url(), timeout_s=30))
        log_a, log_b = Log(), Log()
        a = Sender(cfg, log_a)
        sent = notifications(2, utcnow())
        for n in sent:
            await a.submit(n)
        await log_a.wait_for(lambda: len(hook.hits) == 1)
        await a.close()
        b = Sender(cfg, log_b)
        try:
            b.resume(log_a.records)
            await log_b.wait_for(lambda: all(log_b.state(n.webhook_id) == "delivered" for n in sent))
        finally:
            await b.close()
            await hook.stop()
        assert hook.accepted() == [n.webhook_id for n in sent]
        assert [h.webhook_id for h in hook.hits] == [sent[0].webhook_id, sent[0].webhook_id, sent[1].webhook_id]

    run(case())


def test_a_crash_between_the_2xx_and_its_record_repeats_the_delivery_once_with_the_same_id():
    """The one window of at-least-once: the receiver accepted, the `delivered` record was not written. The resumed
    worker sends it again with the SAME webhook id (receivers drop the repeat by id): at most once more."""

    async def case():
        hook = await Hook().start()
        cfg = config(webhook("oncall", hook.url()))
        log_a, log_b = Log(), Log()

        async def record_until_delivered(d: Delivery) -> None:
            if d.state == "delivered":
                await asyncio.Event().wait()  # the worker dies here
            await log_a(d)

        a = Sender(cfg, record_until_delivered)
        n = make_notification()
        await a.submit(n)
        await log_a.wait_for(lambda: hook.accepted() == [n.webhook_id])
        await a.close()
        b = Sender(cfg, log_b)
        try:
            b.resume(log_a.records)
            await log_b.wait_for(lambda: log_b.state(n.webhook_id) == "delivered")
        finally:
            await b.close()
            await hook.stop()
        assert hook.accepted() == [n.webhook_id, n.webhook_id]

    run(case())


def test_resume_sends_pending_and_retrying_only_in_creation_order(sim):
    async def case():
        hook = await Hook(clock=sim.clock).start()
        cfg = config(webhook("oncall", hook.url()))
        t = sim.now
        done, later, refused, dead, fresh = (make_notification(created_at=t + timedelta(seconds=i)) for i in range(5))
        gone = make_notification(receiver="gone", created_at=t)

        def d(n: Notification, state: str, **kw) -> Delivery:
            carries = n if state in ("pending", "retrying") else None
            return Delivery(webhook_id=n.webhook_id, receiver=n.receiver, state=state, at=t, notification=carries, **kw)

        records = [
            d(fresh, "pending"),
            d(done, "pending"),
            d(later, "pending"),
            d(refused, "pending"),
            d(dead, "pending"),
            d(gone, "pending"),
            d(done, "delivered", attempt=1),
            d(later, "retrying", attempt=3, next_attempt_at=t + timedelta(seconds=60)),
            d(refused, "failed", attempt=1),
            d(dead, "dead", attempt=8),
        ]
        log = Log()
        sender = Sender(cfg, log, clock=sim.clock, sleep=sim.sleep)
        try:
            sender.resume(records)
            sender.resume(records)  # twice: nothing is queued twice
            await log.wait_for(
                lambda: log.state(fresh.webhook_id) == "delivered" and log.state(gone.webhook_id) == "failed"
            )
            await sender.submit(done)  # finished before the restart: not sent again
            await asyncio.sleep(0.1)
        finally:
            await sender.close()
            await hook.stop()
        assert hook.accepted() == [later.webhook_id, fresh.webhook_id]
        assert hook.hits[0].at >= t + timedelta(seconds=60)
        assert log.of(later.webhook_id)[-1].attempt == 4
        assert "not configured" in log.of(gone.webhook_id)[-1].error
        assert log.of(done.webhook_id) == []

    run(case())


def test_resume_keeps_a_disabled_receiver_parked_until_enabled():
    async def case():
        hook = await Hook().start()
        cfg = config(webhook("oncall", hook.url()))
        t = utcnow()
        x, y = notifications(2, t)
        reason = "HTTP 410 Gone: the receiver switched this endpoint off"
        records = [
            Delivery(webhook_id=x.webhook_id, receiver="oncall", state="pending", at=t, notification=x),
            Delivery(webhook_id=y.webhook_id, receiver="oncall", state="pending", at=t, notification=y),
            Delivery(
                webhook_id=x.webhook_id,
                receiver="oncall",
                state="disabled",
                attempt=1,
                at=t,
                error=f"receiver disabled since {t.isoformat()}: {reason}",
                notification=x,
            ),
        ]
        log = Log()
        sender = Sender(cfg, log)
        try:
            sender.resume(records)
            await asyncio.sleep(0.2)
            status = sender.status()["oncall"]
            assert status.disabled and status.disabled_reason == reason and status.queued == 2
            assert hook.hits == []
            sender.enable("oncall")
            await log.wait_for(lambda: log.state(y.webhook_id) == "delivered")
        finally:
            await sender.close()
            await hook.stop()
        assert hook.accepted() == [x.webhook_id, y.webhook_id]

    run(case())


# ---- SSRF through the sender ----------------------------------------------------------------------------------------


def test_loopback_without_the_allowlist_is_refused_and_not_contacted():
    async def case():
        hook = await Hook().start()
        log = Log()
        sender = Sender(config(webhook("oncall", hook.url()), allow=()), log)
        n = make_notification()
        try:
            await sender.submit(n)
            await log.wait_for(lambda: log.state(n.webhook_id) == "failed")
        finally:
            await sender.close()
            await hook.stop()
        assert log.of(n.webhook_id)[-1].error == "refused by the SSRF guard: 127.0.0.1 is loopback"
        assert hook.hits == []

    run(case())


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        (
            "http://169.254.169.254/latest/meta-data/",
            "redirect 1 to 169.254.169.254 refused: 169.254.169.254 is link-local (cloud metadata)",
        ),
        ("http://10.0.0.1/admin", "redirect 1 to 10.0.0.1 refused: 10.0.0.1 is private"),
        ("http://[::1]:6379/", "redirect 1 to ::1 refused: ::1 is loopback"),
        ("http://[::ffff:127.0.0.2]/", "::ffff:127.0.0.2 is IPv4-mapped 127.0.0.2, which is loopback"),
        ("gopher://127.0.0.1:6379/_INFO", "scheme 'gopher' is not allowed"),
    ],
)
def test_a_redirect_from_an_allowed_host_to_a_refused_one_is_refused(location, reason):
    async def case():
        hook = await Hook(answer=lambda number, hit: Answer(307, {"Location": location})).start()
        log = Log()
        sender = Sender(config(webhook("oncall", hook.url())), log)
        n = make_notification()
        try:
            await sender.submit(n)
            await log.wait_for(lambda: log.state(n.webhook_id) == "failed")
        finally:
            await sender.close()
            await hook.stop()
        assert reason in log.of(n.webhook_id)[-1].error
        assert log.of(n.webhook_id)[-1].error.startswith("refused by the SSRF guard")
        assert len(hook.hits) == 1

    run(case())


def test_307_and_308_are_followed_with_the_same_signed_post_and_other_redirects_fail(monkeypatch):
    secret = new_secret()
    monkeypatch.setenv("LYTTE_TEST_SECRET", secret)

    def answer(number: int, hit: Hit) -> Answer:
        if hit.path == "/hook":
            return Answer(307, {"Location": "/moved"})
        if hit.path == "/moved":
            return Answer(308, {"Location": "/final"})
        if hit.path == "/see-other":
            return Answer(302, {"Location": "/final"})
        if hit.path == "/loop":
            return Answer(307, {"Location": "/loop"})
        return OK

    async def case():
        hook = await Hook(answer=answer, secrets=[secret]).start()
        log = Log()
        cfg = config(
            webhook("oncall", hook.url("/hook"), secret_env="LYTTE_TEST_SECRET"),
            webhook("other", hook.url("/see-other")),
            webhook("looping", hook.url("/loop")),
        )
        sender = Sender(cfg, log)
        followed = make_notification(receiver="oncall")
        found = make_notification(receiver="other")
        looping = make_notification(receiver="looping")
        try:
            for n in (followed, found, looping):
                await sender.submit(n)
            await log.wait_for(
                lambda: (
                    log.state(followed.webhook_id) == "delivered"
                    and log.state(found.webhook_id) == "failed"
                    and log.state(looping.webhook_id) == "failed"
                )
            )
        finally:
            await sender.close()
            await hook.stop()
        chain = [h for h in hook.hits if h.webhook_id == followed.webhook_id]
        assert [h.path for h in chain] == ["/hook", "/moved", "/final"]
        assert all(h.verified_by == [secret] and h.body == chain[0].body for h in chain)
        assert "HTTP 302: redirect not followed" in log.of(found.webhook_id)[-1].error
        assert sum(h.webhook_id == looping.webhook_id for h in hook.hits) == 4  # 3 hops followed, then failed

    run(case())


# ---- Slack and PagerDuty --------------------------------------------------------------------------------------------


def test_slack_gets_at_most_one_message_a_second_and_its_url_is_never_logged(sim, monkeypatch, caplog):
    async def case():
        hook = await Hook(answer=script(Answer(500)), clock=sim.clock).start()
        monkeypatch.setenv("LYTTE_TEST_SLACK_URL", hook.url("/services/T000/B000/S3CR3TS3CR3T"))
        log = Log()
        sender = Sender(
            config(Receiver(name="social", type="slack", url_env="LYTTE_TEST_SLACK_URL")),
            log,
            clock=sim.clock,
            sleep=sim.sleep,
        )
        sent = notifications(4, sim.now, receiver="social")
        try:
            with caplog.at_level(logging.DEBUG):
                for n in sent:
                    await sender.submit(n)
                await log.wait_for(lambda: all(log.state(n.webhook_id) == "delivered" for n in sent))
        finally:
            await sender.close()
            await hook.stop()
        assert all("webhook-id" not in h.headers for h in hook.hits)  # Slack gets no Standard Webhooks headers
        times = [h.at for h in hook.hits]
        assert all((b - a).total_seconds() >= SLACK_SPACING_S for a, b in itertools.pairwise(times))
        assert len(hook.hits) == 5 and "blocks" in orjson.loads(hook.hits[-1].body)
        assert "webhook-signature" not in hook.hits[0].headers
        assert sender.status()["social"].host == "127.0.0.1"
        assert "S3CR3T" not in caplog.text and "S3CR3T" not in log.json()

    run(case())


def test_pagerduty_202_is_delivered_429_retried_and_the_routing_key_stays_secret(sim, monkeypatch, caplog):
    monkeypatch.setenv("LYTTE_TEST_PD_KEY", "R0UT1NGK3Y0123456789")

    async def case():
        hook = await Hook(answer=script(Answer(429, {"Retry-After": "10"}), then=Answer(202)), clock=sim.clock).start()
        log = Log()
        pager = Receiver(
            name="pager", type="pagerduty", url=hook.url("/v2/enqueue"), routing_key_env="LYTTE_TEST_PD_KEY"
        )
        sender = Sender(config(pager), log, clock=sim.clock, sleep=sim.sleep)
        n = make_notification(receiver="pager")
        try:
            with caplog.at_level(logging.DEBUG):
                await sender.submit(n)
                await log.wait_for(lambda: log.state(n.webhook_id) == "delivered")
        finally:
            await sender.close()
            await hook.stop()
        assert [h.answered for h in hook.hits] == [429, 202]
        event = orjson.loads(hook.hits[-1].body)
        assert event["routing_key"] == "R0UT1NGK3Y0123456789" and event["dedup_key"] == "nordair:1709294400"
        assert log.of(n.webhook_id)[-1].status_code == 202
        assert "R0UT1NGK3Y" not in caplog.text and "R0UT1NGK3Y" not in log.json()

    run(case())


# ---- operator commands -------------------------------------------------------------------------------------------


def test_the_test_command_sends_one_signed_notification_now(monkeypatch):
    secret = new_secret()
    monkeypatch.setenv("LYTTE_TEST_SECRET", secret)

    async def case():
        hook = await Hook(secrets=[secret]).start()
        gone = await Hook(answer=lambda number, hit: Answer(410)).start()
        log = Log()
        cfg = config(webhook("oncall", hook.url(), secret_env="LYTTE_TEST_SECRET"), webhook("gone", gone.url()))
        sender = Sender(cfg, log)
        try:
            delivered = await sender.test("oncall")
            refused = await sender.test("gone")
            with pytest.raises(ValueError, match="unknown receiver 'nope'"):
                await sender.test("nope")
        finally:
            await sender.close()
            await hook.stop()
            await gone.stop()
        assert delivered.state == "delivered" and delivered.webhook_id.startswith("msg_test_")
        assert hook.hits[0].verified_by == [secret] and hook.hits[0].webhook_id == delivered.webhook_id
        assert refused.state == "failed" and refused.status_code == 410
        assert not sender.status()["gone"].disabled  # a test neither disables nor retries
        assert log.records == [delivered, refused]

    run(case())


def test_status_after_a_failed_attempt(sim):
    async def case():
        hook = await Hook(answer=lambda number, hit: Answer(503), clock=sim.clock).start()
        log = Log()
        sender = Sender(config(webhook("oncall", hook.url())), log, clock=sim.clock, sleep=_blocked)
        n = make_notification()
        try:
            await sender.submit(n)
            await log.wait_for(lambda: log.state(n.webhook_id) == "retrying")
            status = sender.status()["oncall"]
        finally:
            await sender.close()
            await hook.stop()
        assert (status.queued, status.last_status_code, status.last_error) == (1, 503, "HTTP 503")
        assert status.next_attempt_at == log.of(n.webhook_id)[-1].next_attempt_at
        assert status.last_attempt_at == sim.now and not status.disabled
        assert (status.type, status.host, status.delivered) == ("webhook", "127.0.0.1", 0)

    run(case())


def test_submit_records_before_it_queues_and_ignores_a_repeat():
    async def case():
        hook = await Hook().start()
        cfg = config(webhook("oncall", hook.url()))

        async def broken(d: Delivery) -> None:
            raise ConnectionError("kafka is down")

        sender = Sender(cfg, broken)
        n = make_notification()
        with pytest.raises(ConnectionError):
            await sender.submit(n)  # not recorded: not queued, nothing sent
        await asyncio.sleep(0.1)
        await sender.close()
        assert hook.hits == []

        log = Log()
        sender = Sender(cfg, log)
        try:
            await asyncio.gather(sender.submit(n), sender.submit(n))  # concurrent repeats: one pending record
            await log.wait_for(lambda: log.state(n.webhook_id) == "delivered")
            await sender.submit(n)  # finished: not sent again
            await asyncio.sleep(0.1)
        finally:
            await sender.close()
            await hook.stop()
        assert log.states(n.webhook_id) == ["pending", "delivered"]
        assert hook.accepted() == [n.webhook_id]

    run(case())


def test_a_record_that_fails_is_tried_again_before_the_sender_goes_on(sim):
    async def case():
        hook = await Hook(clock=sim.clock).start()
        log = Log()
        failures = [ConnectionError("broker unavailable")]

        async def flaky(d: Delivery) -> None:
            if d.state == "delivered" and failures:
                raise failures.pop()
            await log(d)

        sender = Sender(config(webhook("oncall", hook.url())), flaky, clock=sim.clock, sleep=sim.sleep)
        n = make_notification()
        try:
            await sender.submit(n)
            await log.wait_for(lambda: log.state(n.webhook_id) == "delivered")
        finally:
            await sender.close()
            await hook.stop()
        assert log.states(n.webhook_id) == ["pending", "delivered"] and len(hook.hits) == 1
        assert sim.slept == [1.0]

    run(case())
