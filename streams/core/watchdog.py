"""When a worker that has stopped making progress should start over.

faust's consumer can stop handing records to the agent for good after a restart or a rebalance: the
fetch waits on the consumer thread and never comes back, or the flow stays paused (faust-streaming #175
and its relatives; lytte's restart fault case caught it in about one run in thirty). Nothing in the
process notices, so the pipeline would stop while the brand is on fire. The worker therefore watches
itself: records waiting in a partition it owns and nothing handled for `stall_restart_s`, or a rebalance
or recovery that does not finish within `busy_limit_s`, and it starts over (the process image is
replaced; a new worker resumes exactly where the last committed state left off, as after `kill -9`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Observation:
    now_ms: int
    #: the last time a batch was handled (or the worker became ready)
    last_progress_ms: int
    #: owned posts.raw partition -> records in the log after the last one handled
    waiting: dict[int, int]
    #: since when the app is rebalancing or recovering its tables; None when it is not
    busy_since_ms: int | None


def restart_reason(obs: Observation, stall_restart_s: float, busy_limit_s: float) -> str | None:
    """None when the worker is fine; otherwise why it should start over.

    Scenario (stall_restart_s=90, busy_limit_s=600): 1,200 records waiting in partition 2 and nothing
    handled for 95 s -> "partition 2: 1200 records waiting and nothing handled for 95 s". The same with
    nothing waiting (a quiet stream) -> None. Rebalancing for 60 s -> None (recovery may take a while);
    rebalancing for 601 s -> "rebalancing or recovering for 601 s". Handled 10 s ago -> None.
    """
    if obs.busy_since_ms is not None:
        busy_s = (obs.now_ms - obs.busy_since_ms) / 1000
        return f"rebalancing or recovering for {busy_s:.0f} s" if busy_s > busy_limit_s else None
    idle_s = (obs.now_ms - obs.last_progress_ms) / 1000
    if idle_s <= stall_restart_s:
        return None
    waiting = {p: n for p, n in sorted(obs.waiting.items()) if n > 0}
    if not waiting:
        return None
    p, n = next(iter(waiting.items()))
    more = f" (and {len(waiting) - 1} more partitions)" if len(waiting) > 1 else ""
    return f"partition {p}: {n} records waiting and nothing handled for {idle_s:.0f} s{more}"
