"""A fault a test can switch on from outside the worker process: `LYTTE_FAILPOINT=hang_after_batches=N`
makes the agent stop handling records after N batches, as faust's consumer does when it hangs (see
`streams.core.watchdog`). The variable is dropped when the worker starts over, so a restarted worker runs
clean. Unset (always, outside tests): no effect."""

from __future__ import annotations

import asyncio
import os

ENV = "LYTTE_FAILPOINT"


def hang_after_batches() -> int | None:
    name, _, value = os.environ.get(ENV, "").partition("=")
    return int(value) if name == "hang_after_batches" and value.isdigit() else None


async def maybe_hang(batches_handled: int, limit: int | None) -> None:
    if limit is not None and batches_handled >= limit:
        await asyncio.Event().wait()  # never set: the agent waits forever, as in the real hang
