"""Durable, signed, SSRF-guarded delivery of notifications to webhook receivers (generic, Slack, PagerDuty).

Guarantee: at least once, with one identity. Every notification has a `webhook-id`; every attempt to send it
carries that id, also after a restart. A `pending` record (with the notification) is on `lytte.deliveries` before
the first attempt and every later state is recorded before the sender acts on it, so:

- a worker that dies before the `pending` record was written has sent nothing (the caller, an at-least-once
  consumer, submits it again);
- a worker that dies after it resumes the notification from the records (`resume`), with the same id, at its
  recorded `next_attempt_at`;
- the one window that can repeat a delivery is between a receiver's 2xx and the `delivered` record: the resumed
  worker sends it once more, with the same webhook-id (and, for PagerDuty, the same dedup_key), which receivers
  use to drop the repeat. So a receiver sees each webhook-id at least once and, per crash in that window, at most
  once more; never under another id.

Order and isolation: one queue and one task per receiver. A receiver's notifications go out in submission order:
the head of its queue is retried until it is delivered, refused or dead, and those behind it wait (a receiver that
is down is down for all of them, and an incident's "firing" must not arrive after its "resolved"). Nothing a
receiver does (hang, refuse, answer slowly) touches another receiver's task or the caller: `submit` only records
and enqueues. Every attempt is bounded by the receiver's `timeout_s` (connect, send, answer and redirects
together).

Retries follow `retry` (Svix's schedule with jitter, `Retry-After` honoured as a lower bound). A notification is
dead when the schedule ran out or when the next attempt would fall more than `retry.DELIVERY_WINDOW_S` (27.6 h)
after it was submitted: so after a day-long outage the queued notifications behind a dead one get one more try
each, not a day each. Dead, failed and disabled are logged as operator notices (receiver, webhook id, reason;
never the URL, which may hold a token, nor a secret or routing key).

Redirects: a 307 or 308 is followed (the same POST with the same body and headers) at most `MAX_REDIRECTS` times,
each hop checked by the SSRF guard; any other 3xx is a failure (a webhook POST turned into a GET is not a
delivery). A URL or hop the guard refuses is `failed` (a decision, not retried); a name that does not resolve is
retried.

Per type: generic webhooks get Standard Webhooks headers (`webhook-id`, `webhook-timestamp` of the attempt,
`webhook-signature` with one `v1,` signature per secret of `Receiver.secrets()`, newest first, during a rotation);
a generic receiver without a secret is sent the same headers without `webhook-signature` (unsigned). Slack gets at
most one message per second per receiver (Slack's incoming-webhook limit); PagerDuty's 202 is a delivery and its
429 a retry.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote_to_bytes

import httpx
from standardwebhooks.webhooks import Webhook

from schemas.alert_config import AlertsConfig, Receiver
from schemas.alerts import AlertStatus, Delivery, DeliveryState, Notification
from streams.notify.payloads import body_for
from streams.notify.retry import DELIVERY_WINDOW_S, Verdict, backoff_s, classify
from streams.notify.ssrf import AllowList, GuardedTransport, Refused, Resolver, check_url, default_resolve, url_host

logger = logging.getLogger(__name__)

USER_AGENT = "lytte-webhooks/1"
#: 307/308 hops followed per attempt
MAX_REDIRECTS = 3
#: Slack incoming webhooks: about one message per second per channel
SLACK_SPACING_S = 1.0
#: `close` waits this long for the receivers' tasks and connections
CLOSE_TIMEOUT_S = 5.0
#: webhook ids of finished notifications remembered, so that a notification submitted again is not sent again
REMEMBERED_DONE = 10_000

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]
Record = Callable[[Delivery], Awaitable[None]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ReceiverStatus:
    """What an operator sees about one receiver (`lytte alerts status`, the health page). No URL, no secret."""

    receiver: str
    type: str
    #: the host notifications go to ("hooks.slack.com"), never the path or query
    host: str
    queued: int
    disabled: bool = False
    disabled_since: datetime | None = None
    disabled_reason: str = ""
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str = ""
    #: when the head of the queue is tried again, while it is waiting for a retry
    next_attempt_at: datetime | None = None
    delivered: int = 0
    failed: int = 0
    dead: int = 0


@dataclass
class _Item:
    notification: Notification
    #: attempts made so far
    attempt: int
    #: when its delivery window started (submission, or an operator's enable)
    first_at: datetime
    next_at: datetime | None = None
    #: a `pending` record is due before the next attempt (after the receiver was enabled again)
    announce: bool = False

    @property
    def webhook_id(self) -> str:
        return self.notification.webhook_id


@dataclass
class _Outcome:
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    #: the SSRF guard's reason, when it refused the URL or a redirect
    refused: str | None = None


@dataclass
class _Lane:
    receiver: Receiver
    queue: deque[_Item] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    transport: httpx.AsyncBaseTransport | None = None
    disabled_since: datetime | None = None
    disabled_reason: str = ""
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str = ""
    delivered: int = 0
    failed: int = 0
    dead: int = 0


def signature_headers(webhook_id: str, at: datetime, body: bytes, secrets: list[str]) -> dict[str, str]:
    """Standard Webhooks headers for one attempt: id, timestamp (Unix seconds of the attempt) and, with secrets,
    one `v1,<base64 HMAC>` signature per secret separated by spaces (newest first), made by `standardwebhooks`.

    Scenario: ("msg_1", 2024-03-01T12:00:00Z, b"{}", ["whsec_new", "whsec_old"]) -> {"webhook-id": "msg_1",
    "webhook-timestamp": "1709294400", "webhook-signature": "v1,<sig new> v1,<sig old>"}; no secrets -> no
    `webhook-signature`.
    """
    headers = {"webhook-id": webhook_id, "webhook-timestamp": str(int(at.timestamp()))}
    if secrets:
        headers["webhook-signature"] = " ".join(Webhook(s).sign(webhook_id, at, body) for s in secrets)
    return headers


def _disabled_reason(error: str) -> str:
    """The receiver's reason inside a parked record's error: "receiver disabled since T: HTTP 410 Gone: ..." ->
    "HTTP 410 Gone: ..." (so that the prefix does not pile up over restarts)."""
    head, sep, rest = error.partition(": ")
    return (rest if sep and head.startswith("receiver disabled since ") else error) or "HTTP 410 Gone"


def _with_basic_auth(url: str, headers: dict[str, str]) -> dict[str, str]:
    """User info in a URL ("https://user:pass@host/") as HTTP Basic authentication, as httpx's client would do."""
    userinfo = httpx.URL(url).userinfo
    if not userinfo:
        return headers
    return {**headers, "authorization": "Basic " + base64.b64encode(unquote_to_bytes(userinfo)).decode("ascii")}


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return text


def _secret_parts(url: str) -> list[str]:
    """The parts of a URL that may be a credential: the whole URL, its path, query and user info (Slack's webhook
    URLs are secret in their path)."""
    parts = [url]
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return parts
    if parsed.path not in ("", "/"):
        parts.append(parsed.path)
        parts.append(parsed.raw_path.decode("ascii", "replace"))
    if parsed.query:
        parts.append(parsed.query.decode("ascii", "replace"))
    if parsed.userinfo:
        parts.append(parsed.userinfo.decode("ascii", "replace"))
    return parts


class Sender:
    """Delivers notifications to receivers: one queue and one task per receiver (a slow or hanging receiver only
    delays itself), every attempt bounded by the receiver's timeout, retries by `retry`, every state change
    recorded (awaited) through `record` BEFORE it is acted on: the `pending` record (with the notification) is
    recorded before the first attempt, so a crash after it resumes, and a crash before it loses nothing that was
    sent.

    Scenario: receivers "oncall" (generic, down for 10 minutes) and "social" (Slack, up); three notifications
    submitted for each -> "social" gets them at once, a second apart; "oncall" records `pending`, then `retrying`
    after attempt 1 (next in 2.5-5 s), attempt 2 (next in 2.5-5 min) and attempt 3 (next in 15-30 min), then
    `delivered` for the first and, straight after, for the other two, in order, each with its one webhook-id.

    `clock` and `sleep` are injectable so that tests run hours of retries in simulated time over real HTTP;
    `transport` replaces the receivers' SSRF-guarded transports (the URL check before each hop still runs; the
    caller closes it) and `resolve` the DNS lookups of the guard.
    """

    def __init__(
        self,
        config: AlertsConfig,
        record: Record,
        *,
        clock: Clock = _utcnow,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        external_url: str | None = None,
        resolve: Resolver = default_resolve,
    ) -> None:
        self._record_fn = record
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._transport = transport
        self._external_url = external_url or config.external_url
        self._resolve = resolve
        self._allow = AllowList.parse(config.allow_hosts)
        self._lanes = {r.name: _Lane(r) for r in config.receivers}
        self._queued: set[str] = set()
        self._done: OrderedDict[str, None] = OrderedDict()
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    # ---- the interface ---------------------------------------------------------------------------------------

    async def submit(self, n: Notification) -> None:
        """Record `pending` (with the notification), then queue it for its receiver. A webhook id that is queued
        or was finished recently is ignored (the caller may submit again after its own restart). A receiver that
        is not configured is recorded `failed`; a disabled one parks the notification (recorded `disabled`)."""
        if self._closed:
            raise RuntimeError("the sender is closed")
        if n.webhook_id in self._queued or n.webhook_id in self._done:
            return
        self._queued.add(n.webhook_id)  # before the await: a concurrent submit of the same id is ignored
        now = self._clock()
        try:
            await self._record_fn(self._delivery(n, "pending", now, notification=n))
        except BaseException:
            self._queued.discard(n.webhook_id)
            raise
        lane = self._lanes.get(n.receiver)
        if lane is None:
            self._queued.discard(n.webhook_id)
            await self._record_fn(self._delivery(n, "failed", now, error=f"receiver {n.receiver!r} is not configured"))
            logger.warning("operator notice: notification %s is for unknown receiver %s", n.webhook_id, n.receiver)
            self._remember_done(n.webhook_id)
            return
        lane.queue.append(_Item(n, attempt=0, first_at=now))
        if lane.disabled_since is not None:
            await self._record_fn(self._parked(lane, lane.queue[-1], now))
        lane.wake.set()
        for other in self._lanes.values():  # also lanes that `resume` filled outside the event loop
            if other.queue:
                self._start(other)

    def resume(self, deliveries: Iterable[Delivery]) -> None:
        """Take up what a previous worker left, from the records of `lytte.deliveries` (in topic order).

        The latest record per webhook id decides: `pending` and `retrying` are queued again (same webhook id, same
        attempt count, at their `next_attempt_at`), in the order the notifications were created; `disabled` ones are
        parked again and their receiver is disabled (since that record) until `enable`; `delivered`, `failed` and
        `dead` are never sent again. The notification comes from the latest record that carries one. Call it
        before the first `submit`, inside the running event loop.

        Scenario: records [pending A, pending B, retrying A (attempt 2, next 12:05), delivered B] -> A queued with
        attempt 2, sent at 12:05; B not sent.
        """
        latest: dict[str, Delivery] = {}
        notifications: dict[str, Notification] = {}
        pending_at: dict[str, datetime] = {}
        first_seen: dict[str, int] = {}
        for index, d in enumerate(deliveries):
            first_seen.setdefault(d.webhook_id, index)
            latest[d.webhook_id] = d
            if d.notification is not None:
                notifications[d.webhook_id] = d.notification
            if d.state == "pending":
                pending_at[d.webhook_id] = d.at

        def order(webhook_id: str) -> tuple[datetime, int]:
            n = notifications.get(webhook_id)
            return (n.created_at if n is not None else latest[webhook_id].at, first_seen[webhook_id])

        started: set[str] = set()
        for webhook_id in sorted(latest, key=order):
            d = latest[webhook_id]
            if d.state in ("delivered", "failed", "dead"):
                self._remember_done(webhook_id)
                continue
            if webhook_id in self._queued or webhook_id in self._done:
                continue
            n = notifications.get(webhook_id)
            if n is None:
                logger.error(
                    "cannot resume %s for receiver %s: no record carries the notification", webhook_id, d.receiver
                )
                continue
            lane = self._lanes.get(d.receiver)
            if lane is None:
                logger.warning(
                    "operator notice: cannot resume %s: receiver %s is no longer configured", webhook_id, d.receiver
                )
                self._remember_done(webhook_id)
                self._background(
                    self._persist(
                        self._delivery(
                            n,
                            "failed",
                            self._clock(),
                            attempt=d.attempt,
                            error=f"receiver {d.receiver!r} is not configured",
                        )
                    )
                )
                continue
            item = _Item(n, attempt=d.attempt, first_at=pending_at.get(webhook_id, d.at), next_at=d.next_attempt_at)
            if d.state == "disabled" and (lane.disabled_since is None or d.at > lane.disabled_since):
                lane.disabled_since, lane.disabled_reason = d.at, _disabled_reason(d.error)
            lane.queue.append(item)
            self._queued.add(webhook_id)
            started.add(d.receiver)
        for name in started:
            self._lanes[name].wake.set()
            self._start(self._lanes[name])

    def status(self) -> dict[str, ReceiverStatus]:
        """Per receiver: queue length, disabled (since, why), the last attempt's time, status and error, when the
        head of the queue is tried next, and what was delivered, failed and dead since the start."""
        out: dict[str, ReceiverStatus] = {}
        for name, lane in self._lanes.items():
            head = lane.queue[0] if lane.queue else None
            out[name] = ReceiverStatus(
                receiver=name,
                type=lane.receiver.type,
                host=self._host(lane.receiver),
                queued=len(lane.queue),
                disabled=lane.disabled_since is not None,
                disabled_since=lane.disabled_since,
                disabled_reason=lane.disabled_reason,
                last_attempt_at=lane.last_attempt_at,
                last_status_code=lane.last_status_code,
                last_error=lane.last_error,
                next_attempt_at=head.next_at if head is not None and lane.disabled_since is None else None,
                delivered=lane.delivered,
                failed=lane.failed,
                dead=lane.dead,
            )
        return out

    def enable(self, receiver: str) -> None:
        """An operator turns a disabled receiver back on: its parked notifications are recorded `pending` again
        and sent in order, each with a fresh retry schedule. A receiver that is not disabled is left alone."""
        lane = self._lane(receiver)
        if lane.disabled_since is None:
            return
        now = self._clock()
        lane.disabled_since, lane.disabled_reason = None, ""
        for item in lane.queue:
            item.attempt, item.first_at, item.next_at, item.announce = 0, now, None, True
        logger.warning(
            "receiver %s enabled again by an operator: %d parked notification(s) go out", receiver, len(lane.queue)
        )
        lane.wake.set()
        self._start(lane)

    async def test(self, receiver: str) -> Delivery:
        """`lytte alerts test --receiver NAME`: one signed test notification (no alerts, group "lytte-test"), sent
        now, once, whether or not the receiver is disabled, outside its queue. Returns the recorded outcome:
        `delivered` on a 2xx, otherwise `failed` with the status or error (a test is never retried, nor does it
        disable or enable the receiver)."""
        lane = self._lane(receiver)
        now = self._clock()
        n = Notification(
            webhook_id=f"msg_test_{uuid.uuid4().hex}",
            receiver=receiver,
            group_key="lytte-test",
            group_labels={"alertname": "lytte_test"},
            status=AlertStatus.FIRING,
            alerts=(),
            created_at=now,
        )
        outcome = await self._send(lane, n, now)
        verdict = self._verdict(outcome)
        state: DeliveryState = "delivered" if verdict.kind == "delivered" else "failed"
        d = self._delivery(
            n,
            state,
            self._clock(),
            attempt=1,
            status_code=outcome.status,
            error="" if state == "delivered" else verdict.reason,
        )
        await self._persist(d)
        return d

    async def close(self) -> None:
        """Stop every receiver's task and close the connections, within `CLOSE_TIMEOUT_S`. What was not delivered
        stays `pending`/`retrying` on the topic for the next worker's `resume`."""
        self._closed = True
        tasks = [lane.task for lane in self._lanes.values() if lane.task is not None] + list(self._side_tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT_S)
        transports = [lane.transport for lane in self._lanes.values() if lane.transport is not None]
        if transports:
            closing = [asyncio.ensure_future(t.aclose()) for t in transports]
            _, late = await asyncio.wait(closing, timeout=CLOSE_TIMEOUT_S)
            for task in late:
                task.cancel()
        for lane in self._lanes.values():
            lane.task, lane.transport = None, None

    # ---- the receiver's task ---------------------------------------------------------------------------------

    def _start(self, lane: _Lane) -> None:
        if self._closed or (lane.task is not None and not lane.task.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # started by the first submit inside the loop
        lane.task = loop.create_task(self._run(lane), name=f"lytte-notify-{lane.receiver.name}")

    async def _run(self, lane: _Lane) -> None:
        while True:
            try:
                await self._step(lane)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not silence a receiver for good
                logger.exception("delivery to receiver %s failed unexpectedly; going on in 1 s", lane.receiver.name)
                await self._sleep(1.0)

    async def _step(self, lane: _Lane) -> None:
        """One turn of a receiver's task: wait for work, for the head's retry time or for Slack's spacing, or
        make one attempt at the head of the queue and record its outcome."""
        if lane.disabled_since is not None or not lane.queue:
            await lane.wake.wait()
            lane.wake.clear()
            return
        item = lane.queue[0]
        if item.announce:
            await self._persist(
                self._delivery(item.notification, "pending", self._clock(), notification=item.notification)
            )
            item.announce = False
        now = self._clock()
        if item.next_at is not None and item.next_at > now:
            await self._sleep((item.next_at - now).total_seconds())
            return
        if lane.receiver.type == "slack" and lane.last_attempt_at is not None:
            gap = SLACK_SPACING_S - (now - lane.last_attempt_at).total_seconds()
            if gap > 0:
                await self._sleep(gap)
                return
        await self._attempt(lane, item)

    async def _attempt(self, lane: _Lane, item: _Item) -> None:
        n = item.notification
        item.attempt += 1
        started = self._clock()
        lane.last_attempt_at = started
        outcome = await self._send(lane, n, started)
        verdict = self._verdict(outcome)
        now = self._clock()
        lane.last_status_code = outcome.status
        lane.last_error = "" if verdict.kind == "delivered" else verdict.reason
        name = lane.receiver.name

        if verdict.kind == "delivered":
            await self._persist(self._delivery(n, "delivered", now, attempt=item.attempt, status_code=outcome.status))
            lane.delivered += 1
            self._finish(lane, item)
        elif verdict.kind == "failed":
            await self._persist(
                self._delivery(n, "failed", now, attempt=item.attempt, status_code=outcome.status, error=verdict.reason)
            )
            lane.failed += 1
            self._finish(lane, item)
            logger.warning(
                "operator notice: notification %s to receiver %s failed, not retried: %s",
                item.webhook_id,
                name,
                verdict.reason,
            )
        elif verdict.kind == "disabled":
            lane.disabled_since, lane.disabled_reason = now, verdict.reason
            item.next_at = None
            for parked in list(lane.queue):
                await self._persist(
                    self._parked(lane, parked, now, attempt_status=outcome.status if parked is item else None)
                )
            logger.warning(
                "operator notice: receiver %s (%s) is disabled: %s; %d notification(s) parked until it is enabled",
                name,
                self._host(lane.receiver),
                verdict.reason,
                len(lane.queue),
            )
        else:
            wait = backoff_s(item.attempt, self._rng)
            if wait is not None and verdict.after_s is not None:
                wait = max(wait, verdict.after_s)
            next_at = now + timedelta(seconds=wait) if wait is not None else None
            window_end = item.first_at + timedelta(seconds=DELIVERY_WINDOW_S)
            if next_at is None or next_at > window_end:
                why = "retry schedule ran out" if next_at is None else "delivery window of the retry schedule ran out"
                reason = f"{why} after {item.attempt} attempt(s); last: {verdict.reason}"
                await self._persist(
                    self._delivery(n, "dead", now, attempt=item.attempt, status_code=outcome.status, error=reason)
                )
                lane.dead += 1
                self._finish(lane, item)
                logger.warning(
                    "operator notice: notification %s to receiver %s is dead: %s", item.webhook_id, name, reason
                )
            else:
                await self._persist(
                    self._delivery(
                        n,
                        "retrying",
                        now,
                        attempt=item.attempt,
                        status_code=outcome.status,
                        error=verdict.reason,
                        next_attempt_at=next_at,
                        notification=n,
                    )
                )
                item.next_at = next_at

    def _finish(self, lane: _Lane, item: _Item) -> None:
        if lane.queue and lane.queue[0] is item:
            lane.queue.popleft()
        else:  # pragma: no cover - only the head is ever attempted
            lane.queue.remove(item)
        self._queued.discard(item.webhook_id)
        self._remember_done(item.webhook_id)

    # ---- one attempt over HTTP ----------------------------------------------------------------------------------

    def _verdict(self, outcome: _Outcome) -> Verdict:
        if outcome.refused is not None:
            return Verdict("failed", None, f"refused by the SSRF guard: {outcome.refused}")
        return classify(outcome.status, outcome.headers, outcome.error, now=self._clock())

    async def _send(self, lane: _Lane, n: Notification, at: datetime) -> _Outcome:
        """One attempt: build the body and headers now (secrets and URL are read at each attempt, so a rotated
        secret file takes effect without a restart), POST, follow 307/308 under the guard, all within the
        receiver's timeout. Never raises for what the network or the receiver does."""
        receiver = lane.receiver
        secrets: list[str] = []
        try:
            url = receiver.resolved_url()
            secrets = _secret_parts(url)
            if receiver.type == "pagerduty":
                secrets.append(receiver.routing_key())
            body, headers = body_for(receiver, n, self._external_url)
            headers = {**headers, "user-agent": USER_AGENT}
            if receiver.type == "webhook":
                signing = receiver.secrets()
                secrets.extend(signing)
                headers.update(signature_headers(n.webhook_id, at, body, signing))
        except ValueError as exc:  # a missing environment variable or file, a malformed secret: retried
            return _Outcome(error=f"configuration: {_scrub(str(exc), secrets)}")
        try:
            async with asyncio.timeout(receiver.timeout_s):
                return await self._post(lane, url, body, headers)
        except Refused as exc:
            return _Outcome(refused=_scrub(str(exc), secrets))
        except (TimeoutError, httpx.TimeoutException):
            return _Outcome(error=f"timeout: no answer within {receiver.timeout_s:g} s")
        except (httpx.HTTPError, OSError) as exc:
            text = _scrub(str(exc), secrets)
            return _Outcome(error=f"{type(exc).__name__}: {text}" if text else type(exc).__name__)

    async def _post(self, lane: _Lane, url: str, body: bytes, headers: dict[str, str]) -> _Outcome:
        # The transport, not an httpx.AsyncClient: the client logs every request's full URL at INFO, and a Slack
        # webhook URL (or a token in a query) is a secret. Nothing here follows redirects or sends cookies.
        transport = self._transport_of(lane)
        timeout = httpx.Timeout(lane.receiver.timeout_s).as_dict()
        target = url
        for hop in range(MAX_REDIRECTS + 1):
            try:
                await check_url(target, self._allow, self._resolve)
            except Refused as exc:
                if hop:
                    raise Refused(f"redirect {hop} to {url_host(target)} refused: {exc}") from None
                raise
            request = httpx.Request("POST", target, content=body, headers=_with_basic_auth(target, headers))
            request.extensions["timeout"] = timeout
            response = await transport.handle_async_request(request)
            try:
                status, answer = response.status_code, dict(response.headers)
            finally:
                await response.aclose()
            location = answer.get("location")
            if status in (307, 308) and location and hop < MAX_REDIRECTS:
                try:
                    target = str(httpx.URL(target).join(location))
                except (httpx.InvalidURL, TypeError):
                    return _Outcome(status=status, headers=answer, error="redirect to an invalid URL")
                continue
            return _Outcome(status=status, headers=answer)
        raise AssertionError("unreachable")  # pragma: no cover

    def _transport_of(self, lane: _Lane) -> httpx.AsyncBaseTransport:
        """The receiver's own guarded transport (its own connection pool), or the injected one."""
        if self._transport is not None:
            return self._transport
        if lane.transport is None:
            lane.transport = GuardedTransport(self._allow, resolve=self._resolve)
        return lane.transport

    # ---- records -------------------------------------------------------------------------------------------------

    def _delivery(
        self,
        n: Notification,
        state: DeliveryState,
        at: datetime,
        *,
        attempt: int = 0,
        status_code: int | None = None,
        error: str = "",
        next_attempt_at: datetime | None = None,
        notification: Notification | None = None,
    ) -> Delivery:
        return Delivery(
            webhook_id=n.webhook_id,
            receiver=n.receiver,
            state=state,
            attempt=attempt,
            at=at,
            status_code=status_code,
            error=error,
            next_attempt_at=next_attempt_at,
            notification=notification,
        )

    def _parked(self, lane: _Lane, item: _Item, at: datetime, attempt_status: int | None = None) -> Delivery:
        since = lane.disabled_since.isoformat() if lane.disabled_since else "now"
        return self._delivery(
            item.notification,
            "disabled",
            at,
            attempt=item.attempt,
            status_code=attempt_status,
            error=f"receiver disabled since {since}: {lane.disabled_reason}",
            notification=item.notification,
        )

    async def _persist(self, d: Delivery) -> None:
        """Record, and keep trying until it is recorded: nothing is acted on before its record exists."""
        delay = 1.0
        while True:
            try:
                await self._record_fn(d)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.error(
                    "cannot record %s of %s for receiver %s (%s); trying again in %.0f s",
                    d.state,
                    d.webhook_id,
                    d.receiver,
                    type(exc).__name__,
                    delay,
                )
                await self._sleep(delay)
                delay = min(delay * 2, 60.0)

    def _remember_done(self, webhook_id: str) -> None:
        self._done[webhook_id] = None
        self._done.move_to_end(webhook_id)
        while len(self._done) > REMEMBERED_DONE:
            self._done.popitem(last=False)

    def _background(self, job: Awaitable[None]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(job)  # type: ignore[arg-type]
        except RuntimeError:
            job.close()  # type: ignore[attr-defined]
            return
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    def _lane(self, receiver: str) -> _Lane:
        lane = self._lanes.get(receiver)
        if lane is None:
            known = ", ".join(sorted(self._lanes)) or "none"
            raise ValueError(f"unknown receiver {receiver!r} (receivers: {known})")
        return lane

    @staticmethod
    def _host(receiver: Receiver) -> str:
        try:
            return url_host(receiver.resolved_url())
        except ValueError:
            return "?"
