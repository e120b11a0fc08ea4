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
from pathlib import Path

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
    sizes: Counter[str] = Counter({c: 0 for c in CATEGORIES})
    for (kind, _), (_, size) in by_name(snapshot).items():
        sizes[CATEGORY_OF_TYPE.get(kind, "objects")] += size
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


def by_name(snapshot: dict) -> dict[tuple[str, str], tuple[int, int]]:
    """(node type, name) -> (count, self size). Names lose their `@id` (a closure's context is named after its
    function's node id, which differs from one snapshot to the next) and strings are one `<string>` name.

    Scenario: two objects "Foo" of 16 and 24 B, a string "x" of 8 B, a closure context "scope @12" of 40 B ->
    {("object", "Foo"): (2, 40), ("string", "<string>"): (1, 8), ("object", "scope"): (1, 40)}."""
    meta = snapshot["snapshot"]["meta"]
    fields = meta["node_fields"]
    types = meta["node_types"][0]
    width = len(fields)
    at_type, at_name, at_size = fields.index("type"), fields.index("name"), fields.index("self_size")
    nodes, strings = snapshot["nodes"], snapshot["strings"]
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for i in range(0, len(nodes), width):
        kind = types[nodes[i + at_type]]
        name = "<string>" if CATEGORY_OF_TYPE.get(kind) == "strings" else strings[nodes[i + at_name]].split(" @")[0]
        count, size = out.get((kind, name[:100]), (0, 0))
        out[(kind, name[:100])] = (count + 1, size + nodes[i + at_size])
    return out


def grown(first: dict, last: dict, top: int = 30) -> list[tuple[int, int, str, str]]:
    """What grew most between two snapshots: (bytes more, objects more, type, name), largest growth first."""
    a, b = by_name(first), by_name(last)
    rows = [(b.get(k, (0, 0))[1] - a.get(k, (0, 0))[1], b.get(k, (0, 0))[0] - a.get(k, (0, 0))[0], *k) for k in a | b]
    return sorted(rows, reverse=True)[:top]


def main(argv: list[str] | None = None) -> int:
    """`python -m streams.bench.heap_snapshot FIRST LAST`: the categories of both, and what grew most."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("first", type=Path)
    parser.add_argument("last", type=Path)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    first, last = (json.loads(p.read_text()) for p in (args.first, args.last))
    one, two = breakdown(first), breakdown(last)
    for category in CATEGORIES:
        print(f"{category:8s} {one[category]:>12,d} -> {two[category]:>12,d} B ({two[category] - one[category]:+,d})")
    for size, count, kind, name in grown(first, last, args.top):
        print(f"{size:+12,d} B {count:+8,d}  {kind}: {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
