"""A batch's writes: every send checked, a failure retried, nothing acknowledged before all are written."""

from __future__ import annotations

import asyncio

from streams.agents import app as agents_app
from streams.agents.app import Send, perform


def test_a_failed_send_is_retried_with_the_whole_batch_until_all_are_written(monkeypatch, caplog):
    attempts = {"a": 0, "b": 0}

    async def start(name: str):
        attempts[name] += 1
        future = asyncio.get_running_loop().create_future()
        if name == "b" and attempts["b"] == 1:
            future.set_exception(RuntimeError("broker went away"))
        else:
            future.set_result(name)
        return future

    async def no_wait(_delay):
        return None

    monkeypatch.setattr(agents_app.asyncio, "sleep", no_wait)
    asyncio.run(perform("test batch", [Send(start, "a"), Send(start, "b")]))
    assert attempts == {"a": 2, "b": 2}, "the whole batch is sent again: records sent twice are harmless"
    assert "1 of 2 sends failed: RuntimeError('broker went away')" in caplog.text
    assert "written after 2 attempts" in caplog.text
