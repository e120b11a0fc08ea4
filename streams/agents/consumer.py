"""faust's Kafka consumer, with three stalls of its record delivery taken out.

Measured with an agent that does nothing (`take_events(500)` over 50,000 records produced beforehand, on the
2-core development machine): faust 0.15 delivers about 6,000 events/s where aiokafka alone reads 270,000
records/s. Where the time went:

1. **An empty fetch parks the broker connection for 1.5 s.** aiokafka sends one fetch request per broker at a
   time, and leaves out the partitions whose records are still buffered. Every faust worker is also
   assigned its app's `__assignor-__leader` partition, which never holds a record; so while the raw
   partitions' records wait in the buffer, the next request asks for that partition alone, and the broker
   holds it for faust's `fetch_max_wait_ms` of 1,500 before answering with nothing. No raw record can be
   fetched meanwhile. Here the wait is `FETCH_MAX_WAIT_MS`.
2. **A fetch that finds records only on its second look waits out faust's 1 s poll.** aiokafka's
   `fetched_records` regularly returned nothing from a call whose records had arrived before it began,
   waited its whole timeout (faust passes 1 s), and the next call returned them at once. Each poll here is
   at most `POLL_TIMEOUT_S`; faust's drain loop calls again at once, so an idle worker asks 20 times a second.
3. **Four tasks per record.** faust hands each record over with `wait_first(callback(message),
   suspend_flow.wait())`, which wraps both and the service's stop and crash events in tasks and waits for
   the first. Here the callback is first run as far as it goes without waiting, which is how almost every
   record goes (a put into a stream's queue that has room); only a callback that must wait goes the
   original way, so that a flow suspension (a rebalance) still interrupts it as before.

With all three: about 22,000 events/s; each one alone gave little (1 and 2 are one stall seen twice). The
hand-over keeps faust's semantics, including what faust drops (see `streams.agents.gaps`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.services import WaitResults

#: How long the broker may hold a fetch that finds no new records (faust: 1,500 ms).
FETCH_MAX_WAIT_MS = 100
#: The longest one poll of the consumer thread for fetched records may wait (faust: 1 s).
POLL_TIMEOUT_S = 0.05


class LytteConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read by AIOKafkaConsumer.start() for its Fetcher
        return consumer


class LytteConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> LytteConsumerThread:
        return LytteConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _getmany(self, active_partitions, timeout: float):
        return await super()._getmany(active_partitions, min(timeout, POLL_TIMEOUT_S))

    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:
        flowing = not self.suspend_flow.is_set() and not self.should_stop
        if flowing and timeout is None and len(coros) == 2 and _is_wait_of(coros[1], self.suspend_flow):
            return await callback_or_suspension(coros[0], coros[1], super().wait_first)
        return await super().wait_first(*coros, timeout=timeout)


def _is_wait_of(coro: Any, event: asyncio.Event) -> bool:
    """Whether `coro` is `event.wait()`, not yet started: the drain loop's second argument."""
    frame = getattr(coro, "cr_frame", None)
    return frame is not None and frame.f_locals.get("self") is event


async def callback_or_suspension(callback: Coroutine, suspended: Coroutine, wait_first) -> WaitResults:
    """What `wait_first(callback, suspended)` returns, without a task when the callback needs no wait.

    Scenario: a callback that puts into a queue with room -> it is done here, `suspended` is closed unstarted,
    and the result is WaitResults([callback], [its result], False). A callback that must wait (the queue is
    full) -> the rest of it and `suspended` go to `wait_first`, so whichever finishes first decides, as in
    faust. A callback that raises at once -> the exception, `suspended` closed.
    """
    try:
        pending = callback.send(None)
    except StopIteration as done:
        suspended.close()
        return WaitResults([callback], [done.value], False)
    except BaseException:
        suspended.close()
        raise
    return await wait_first(_finish(callback, pending), suspended)


async def _finish(coro: Coroutine, pending: Any) -> Any:
    return await _Resumed(coro, pending)


class _Resumed:
    """Awaiting this runs the rest of a coroutine that has been stepped once and is waiting on `pending`:
    the awaiting task waits on what the coroutine waits on, and sends, throws and cancels go through to it."""

    def __init__(self, coro: Coroutine, pending: Any) -> None:
        self._coro, self._pending = coro, pending

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, waiting_on = self._coro, self._pending
        while True:
            try:
                sent = yield waiting_on
            except BaseException as exc:  # a cancellation or a throw into the awaiting task
                try:
                    waiting_on = coro.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    waiting_on = coro.send(sent)
                except StopIteration as done:
                    return done.value
