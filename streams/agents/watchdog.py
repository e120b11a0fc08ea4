"""The worker watching itself (the decision is `streams.core.watchdog.restart_reason`): progress as the
agent reports it, the loop that catches up on records the agent was never given and asks whether to start
over, the process restart, and the flow state of faust and aiokafka that the restart's diagnosis prints."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial

import faust

from schemas.settings import Settings
from streams.agents import await_dump, failpoint
from streams.core.watchdog import Observation, restart_reason

log = logging.getLogger(__name__)

#: How often the worker checks that it is making progress.
WATCHDOG_INTERVAL_S = 5.0


def now_ms() -> int:
    return int(time.time() * 1000)


#: Idle this long with records waiting, the worker reads them from the log itself (see `watch_progress`).
CATCH_UP_AFTER_S = 10.0


class Progress:
    """When the agent last handled a batch, and how many it has handled."""

    def __init__(self) -> None:
        self.last_ms = now_ms()
        self.batches = 0

    def batch_handled(self) -> None:
        self.last_ms = now_ms()
        self.batches += 1


async def watch_progress(
    app: faust.App,
    settings: Settings,
    progress: Progress,
    waiting_records: Callable[[], Awaitable[dict[int, int] | None]],
    catch_up: Callable[[], Awaitable[None]],
) -> None:
    """Every few seconds: busy (rebalancing or recovering) since when, and idle for how long. When idle a
    while, how many records wait in the partitions this worker owns: if any, `catch_up` handles them
    straight from the log (faust drops records it fetched around a recovery or a rebalance, and when no
    later record follows in the partition, nothing else would ever notice the hole), and the waiting
    records are counted again. Start over when `restart_reason` says so, on the count after the catch-up:
    a catch-up that cannot run (the agent hangs in a batch) or cannot keep up (faust delivers nothing at
    all) leaves records waiting, and a record that just arrived on a quiet stream is handled, not a stall.
    The catch-up is not the agent's progress: a worker whose agent gets nothing from faust starts over."""
    busy_since: int | None = None
    catch_up_after_s = min(CATCH_UP_AFTER_S, settings.stall_restart_s or CATCH_UP_AFTER_S)
    while True:
        await asyncio.sleep(WATCHDOG_INTERVAL_S)
        now = now_ms()
        if app.rebalancing or app.in_recovery:
            busy_since = busy_since or now
        elif busy_since is not None:
            busy_since, progress.last_ms = None, now  # a fresh window after every rebalance
        idle_s = (now - progress.last_ms) / 1000
        waiting: dict[int, int] | None = {}
        if busy_since is None and idle_s > catch_up_after_s:
            waiting = await waiting_records()
            if waiting and any(n > 0 for n in waiting.values()):
                await catch_up()
                waiting = await waiting_records()
        if waiting is None or settings.stall_restart_s <= 0:
            continue  # the broker is away (a new worker would not fare better), or restarts are off
        reason = restart_reason(
            Observation(now_ms(), progress.last_ms, waiting, busy_since),
            settings.stall_restart_s,
            settings.busy_limit_s,
        )
        if reason is not None:
            start_over(reason, partial(consumer_facts, app))


def start_over(reason: str, facts: Callable[[], dict[str, object]]) -> None:
    """Replace this process with a fresh worker (same pid, same command line): what a supervisor would do
    after a crash, without needing one. The tables and offsets in Kafka make the new worker resume exactly."""
    log.error("watchdog: %s; starting the worker over", reason)
    await_dump.dump_tasks(sys.stderr, facts)
    os.environ.pop(failpoint.ENV, None)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, sys.orig_argv)


def consumer_facts(app: faust.App) -> dict[str, object]:
    """faust's and aiokafka's flow state, for a stall's diagnosis (read, never changed)."""
    consumer = app.consumer
    facts: dict[str, object] = {
        "in_recovery": app.in_recovery,
        "rebalancing": app.rebalancing,
        "generation": app.consumer_generation_id,
        "flow_control_active": app.flow_control.is_active(),
        "consumer_flow_active": consumer.flow_active,
        "assignment": sorted(map(str, consumer.assignment())),
        "active_partitions": sorted(map(str, consumer._active_partitions or ())),
        "paused_partitions": sorted(map(str, consumer._paused_partitions)),
        "buffered_partitions": sorted(map(str, consumer._buffered_partitions)),
    }
    inner = getattr(getattr(consumer, "_thread", None), "_consumer", None)
    if inner is not None:
        subscriptions = inner._subscription
        facts["aiokafka_reassignment_in_progress"] = subscriptions.reassignment_in_progress
        facts["aiokafka_paused"] = sorted(map(str, subscriptions.paused_partitions()))
        facts["aiokafka_assigned"] = sorted(map(str, subscriptions.assigned_partitions()))
        facts["aiokafka_fetched_partitions"] = sorted(map(str, inner._fetcher._records))
    return facts
