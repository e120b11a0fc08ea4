"""Faults a test can switch on from outside the worker process, through `LYTTE_FAILPOINT`:

- `hang_after_batches=N`: after N batches the agent hangs in the middle of its next batch (holding the
  batch lock), as an await that never completes would; only the watchdog's restart gets the worker going.
- `drop_after_batches=N`: after N batches the agent drops every batch faust hands it, as faust does with
  records it fetched around a recovery or rebalance; only the worker's catch-up gets those records handled.

The variable is dropped when the worker starts over, so a restarted worker runs clean. Unset (always,
outside tests): no effect."""

from __future__ import annotations

import asyncio
import os

ENV = "LYTTE_FAILPOINT"


class Failpoint:
    def __init__(self, spec: str | None = None) -> None:
        name, _, value = (os.environ.get(ENV, "") if spec is None else spec).partition("=")
        after = int(value) if value.isdigit() else None
        self._hang_after = after if name == "hang_after_batches" else None
        self._drop_after = after if name == "drop_after_batches" else None

    async def admit(self, batches_handled: int) -> bool:
        """Whether the agent handles its next batch (False: it drops it). Never returns when hanging."""
        if self._hang_after is not None and batches_handled >= self._hang_after:
            await asyncio.Event().wait()  # never set: the agent waits forever, as in the real hang
        return self._drop_after is None or batches_handled < self._drop_after
