"""One DevTools protocol client on a page of a Chromium started with a remote-debugging port, kept open for a
whole measurement.

Why not chromedriver's `execute_script`: the inspector keeps every result it hands chromedriver bound to a
handle ("DevTools console" in a heap snapshot) that nobody releases, so a bench that reads the page every 30 s
makes the page grow by its own readings. `evaluate` here returns by value and binds nothing. And heap snapshots
taken through one session number their objects alike (a new session starts the numbering again), which is what
tells the objects born between two snapshots (`streams.bench.heap_snapshot.survivors`).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable


def page_socket(debugger_address: str) -> str:
    """The DevTools websocket of the first page of a Chromium started with a remote-debugging port (chromedriver
    gives it as `goog:chromeOptions.debuggerAddress`)."""
    with urllib.request.urlopen(f"http://{debugger_address}/json", timeout=10) as answer:
        targets = json.load(answer)
    return next(t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page")


class DevToolsError(RuntimeError):
    """A DevTools command answered with an error, or the page's script threw."""


class PageSession:
    """`call` a DevTools method, `evaluate` an expression in the page, `collect_garbage`, `heap_snapshot`; every
    wait bounded by `timeout_s`. Use as a context manager."""

    def __init__(self, debugger_address: str, timeout_s: float = 300.0) -> None:
        from websockets.sync.client import connect

        self.timeout_s = timeout_s
        self._ws = connect(page_socket(debugger_address), max_size=None, open_timeout=10, close_timeout=5)
        self._last_id = 0
        self.call("HeapProfiler.enable")  # from here on the heap's objects keep their snapshot ids

    def __enter__(self) -> PageSession:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def close(self) -> None:
        self._ws.close()

    def call(self, method: str, params: dict | None = None, on_event: Callable[[dict], None] | None = None) -> dict:
        """The result of one command; the events that arrive meanwhile go to `on_event` (or are dropped)."""
        self._last_id += 1
        sent = self._last_id
        self._ws.send(json.dumps({"id": sent, "method": method, "params": params or {}}))
        while True:
            message = json.loads(self._ws.recv(timeout=self.timeout_s))
            if message.get("id") == sent:
                if "error" in message:
                    raise DevToolsError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message and on_event is not None:
                on_event(message)

    def evaluate(self, expression: str):
        """The value of `expression` in the page, as JSON gives it back."""
        answer = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            raise DevToolsError(details.get("exception", {}).get("description") or details.get("text"))
        return answer["result"].get("value")

    def collect_garbage(self) -> None:
        self.call("HeapProfiler.collectGarbage")

    def heap_snapshot(self) -> dict:
        """A heap snapshot of the page after a forced garbage collection, parsed."""
        chunks: list[str] = []

        def keep(event: dict) -> None:
            if event["method"] == "HeapProfiler.addHeapSnapshotChunk":
                chunks.append(event["params"]["chunk"])

        self.collect_garbage()
        self.call("HeapProfiler.takeHeapSnapshot", {"reportProgress": False}, on_event=keep)
        return json.loads("".join(chunks))
