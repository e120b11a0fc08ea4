"""What every asyncio task of the worker is waiting for, down to the innermost await: `kill -USR2 <pid>`.

mode's SIGUSR1 dump stops at the first async generator ("async_generator_asend ... [rest of traceback
truncated]"), and faust's streams, fetcher and `take_events` are async generators, so a stalled worker's
dump never shows the line that waits. This follows coroutines, async generators (through their
`asend`/`athrow` wrappers) and the futures they wait on, and writes one chain of `file:line function` per
task, then every thread's stack, to stderr.
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import inspect
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, TextIO

MAX_DEPTH = 40


def _frame_line(frame: FrameType | None, what: str) -> str:
    if frame is None:
        return f"{what} (finished)"
    code = frame.f_code
    return f"{code.co_filename}:{frame.f_lineno} {code.co_name}"


def _inner(awaitable: Any) -> tuple[str | None, Any]:
    """One step down the chain: (a line describing `awaitable`, what it awaits in turn)."""
    if inspect.iscoroutine(awaitable):
        return _frame_line(awaitable.cr_frame, "coroutine"), awaitable.cr_await
    if inspect.isasyncgen(awaitable):
        return _frame_line(awaitable.ag_frame, "async generator"), awaitable.ag_await
    if inspect.isgenerator(awaitable):  # a generator-based awaitable (asyncio.sleep(0) and the like)
        return _frame_line(awaitable.gi_frame, "generator"), awaitable.gi_yieldfrom
    kind = type(awaitable).__name__
    if kind in ("async_generator_asend", "async_generator_athrow"):
        # the wrapper does not expose its generator; the garbage collector knows what it refers to
        agens = [r for r in gc.get_referents(awaitable) if inspect.isasyncgen(r)]
        return None, agens[0] if agens else None
    if isinstance(awaitable, asyncio.Future):
        return f"future {awaitable!r:.300}", None
    return f"{kind} {awaitable!r:.200}", None


def _write_tasks(out: TextIO, title: str, tasks: set[asyncio.Task]) -> None:
    out.write(f"=== {title}: await chains of {len(tasks)} tasks ===\n")
    for task in sorted(tasks, key=lambda t: t.get_name()):
        out.write(f"--- {task.get_name()}\n")
        node: Any = task.get_coro()
        for _ in range(MAX_DEPTH):
            if node is None:
                break
            line, node = _inner(node)
            if line:
                out.write(f"    {line}\n")


def dump_tasks(out: TextIO, facts: Callable[[], dict[str, Any]] | None = None) -> None:
    """The tasks of this loop, then those of every other running loop (faust runs aiokafka's consumer in a
    thread with its own loop), then `facts` (state worth seeing next to the chains), then the threads."""
    current = asyncio.get_running_loop()
    _write_tasks(out, "this loop", asyncio.all_tasks())
    others = [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop) and o is not current]
    for loop in others:
        if loop.is_running():
            # read from another thread: fine for a diagnosis of a loop that is idle or stuck
            _write_tasks(out, f"loop {id(loop):#x}", asyncio.all_tasks(loop))
    if facts is not None:
        out.write("=== facts ===\n")
        try:
            for name, value in facts().items():
                out.write(f"{name}: {value!r:.2000}\n")
        except Exception as exc:  # a diagnosis must not take the worker down
            out.write(f"facts failed: {exc!r}\n")
    out.write("=== threads ===\n")
    out.flush()
    faulthandler.dump_traceback(out, all_threads=True)
    out.write("=== end ===\n")
    out.flush()


def install(loop: asyncio.AbstractEventLoop, facts: Callable[[], dict[str, Any]] | None = None) -> None:
    """Dump on SIGUSR2 (run by the loop, so that this loop's chains are consistent)."""
    loop.add_signal_handler(signal.SIGUSR2, dump_tasks, sys.stderr, facts)
