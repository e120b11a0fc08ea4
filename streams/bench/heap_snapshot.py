"""What a page's JavaScript heap is made of, from a V8 heap snapshot taken over the Chrome DevTools Protocol.

`usedJSHeapSize` counts V8's compiled code beside the page's objects. Over a long run V8 keeps optimising more
of the functions that run often: the heap grows by compiled code that is bounded by the code there is, and a
trend test on the total cannot tell that from a page that keeps objects. A snapshot can: every node has a type,
and `code` nodes are the compiled code and its metadata. The bench takes one when it starts measuring and one
at the end, and judges the page by what is not code.
"""

from __future__ import annotations

import json
import urllib.request
from collections import Counter

#: snapshot node types as DevTools groups them; everything else is the page's objects
CATEGORY_OF_TYPE = {
    "code": "code",
    "string": "strings",
    "concatenated string": "strings",
    "sliced string": "strings",
    "native": "native",
}
CATEGORIES = ("objects", "strings", "native", "code")


def breakdown(snapshot: dict) -> dict[str, int]:
    """Self sizes added up by category (`CATEGORIES`), from a parsed `.heapsnapshot`.

    Scenario: nodes (object, 100 B), (code, 40 B), (string, 8 B), (closure, 32 B), (native, 64 B) ->
    {"objects": 132, "strings": 8, "native": 64, "code": 40}."""
    meta = snapshot["snapshot"]["meta"]
    fields = meta["node_fields"]
    types = meta["node_types"][0]
    width = len(fields)
    at_type, at_size = fields.index("type"), fields.index("self_size")
    nodes = snapshot["nodes"]
    sizes: Counter[str] = Counter({c: 0 for c in CATEGORIES})
    for i in range(0, len(nodes), width):
        sizes[CATEGORY_OF_TYPE.get(types[nodes[i + at_type]], "objects")] += nodes[i + at_size]
    return dict(sizes)


def page_socket(debugger_address: str) -> str:
    """The DevTools websocket of the first page of a Chromium started with a remote-debugging port (chromedriver
    gives it as `goog:chromeOptions.debuggerAddress`)."""
    with urllib.request.urlopen(f"http://{debugger_address}/json", timeout=10) as answer:
        targets = json.load(answer)
    return next(t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page")


def take(debugger_address: str, timeout_s: float = 300.0) -> dict:
    """A heap snapshot of the page, after a forced garbage collection, parsed. A second DevTools client of its
    own: the chunks come as events, which chromedriver's `execute_cdp_cmd` does not pass on."""
    from websockets.sync.client import connect

    chunks: list[str] = []
    with connect(page_socket(debugger_address), max_size=None, open_timeout=10, close_timeout=5) as ws:
        for n, method in enumerate(("HeapProfiler.enable", "HeapProfiler.collectGarbage"), 1):
            ws.send(json.dumps({"id": n, "method": method}))
        ws.send(json.dumps({"id": 3, "method": "HeapProfiler.takeHeapSnapshot", "params": {"reportProgress": False}}))
        while True:
            message = json.loads(ws.recv(timeout=timeout_s))
            if message.get("method") == "HeapProfiler.addHeapSnapshotChunk":
                chunks.append(message["params"]["chunk"])
            elif message.get("id") == 3:
                if "error" in message:
                    raise RuntimeError(f"the heap snapshot failed: {message['error']}")
                break
    return json.loads("".join(chunks))
