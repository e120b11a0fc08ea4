"""What a page's JavaScript heap is made of, from a V8 heap snapshot taken over the Chrome DevTools Protocol.

`usedJSHeapSize` counts V8's compiled code beside the page's objects. Over a long run V8 keeps optimising more
of the functions that run often: the heap grows by compiled code that is bounded by the code there is, and a
trend test on the total cannot tell that from a page that keeps objects. A snapshot can: every node has a type,
and `code` nodes are the compiled code and its metadata. The bench takes one when it starts measuring, one
halfway and one at the end (all through one `streams.bench.devtools.PageSession`), and judges the page by what is
not code: how it grew from first to last, and what it still holds of the objects born between the first two
(`survivors`, the three-snapshot technique of the DevTools documentation).
"""

from __future__ import annotations

import json
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
    return _by_category(by_name(snapshot))


def _by_category(named: dict[tuple[str, str], tuple[int, int]]) -> dict[str, int]:
    sizes: Counter[str] = Counter({c: 0 for c in CATEGORIES})
    for (kind, _), (_, size) in named.items():
        sizes[CATEGORY_OF_TYPE.get(kind, "objects")] += size
    return dict(sizes)


def _nodes(snapshot: dict):
    """(type, name, id, self size) of every node."""
    meta = snapshot["snapshot"]["meta"]
    fields = meta["node_fields"]
    types = meta["node_types"][0]
    width = len(fields)
    at_type, at_name, at_id, at_size = (fields.index(f) for f in ("type", "name", "id", "self_size"))
    nodes, strings = snapshot["nodes"], snapshot["strings"]
    for i in range(0, len(nodes), width):
        yield types[nodes[i + at_type]], strings[nodes[i + at_name]], nodes[i + at_id], nodes[i + at_size]


def _key(kind: str, name: str) -> tuple[str, str]:
    """A node's (type, name) without what differs from one snapshot to the next: strings are all `<string>`, a
    closure's context loses the `@id` it is named after."""
    return kind, "<string>" if CATEGORY_OF_TYPE.get(kind) == "strings" else name.split(" @")[0][:100]


def by_name(snapshot: dict, born: tuple[int, int] | None = None) -> dict[tuple[str, str], tuple[int, int]]:
    """(node type, name) -> (count, self size). Names lose their `@id` (a closure's context is named after its
    function's node id, which differs from one snapshot to the next) and strings are one `<string>` name.

    Scenario: two objects "Foo" of 16 and 24 B, a string "x" of 8 B, a closure context "scope @12" of 40 B ->
    {("object", "Foo"): (2, 40), ("string", "<string>"): (1, 8), ("object", "scope"): (1, 40)}. With `born`
    (low, high) only the nodes whose id is above low and up to high."""
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for kind, name, node_id, size in _nodes(snapshot):
        if born is not None and not born[0] < node_id <= born[1]:
            continue
        key = _key(kind, name)
        count, total = out.get(key, (0, 0))
        out[key] = (count + 1, total + size)
    return out


def highest_id(snapshot: dict) -> int:
    return max((node_id for *_, node_id, _ in _nodes(snapshot)), default=0)


def survivors(last: dict, low: int, high: int) -> tuple[dict[str, int], list[tuple[int, int, str, str]]]:
    """What `last` still holds of the objects born between two earlier snapshots of the same DevTools session
    whose highest ids were `low` and `high`: their self sizes by category, and by (type, name) largest first as
    (bytes, count, type, name). V8 numbers each object once, in the order it first shows in a snapshot of the
    session, so the ids above the first's highest and up to the second's are the objects born in between.

    Scenario: ids up to 3 at the first snapshot, up to 7 at the second; the last holds 1-3, 7 (code of 40 B)
    and 9 -> {"objects": 0, "strings": 0, "native": 0, "code": 40}, [(40, 1, "code", name)]: 9 came later."""
    named = by_name(last, born=(low, high))
    return _by_category(named), sorted(((total, count, *key) for key, (count, total) in named.items()), reverse=True)


def grown(first: dict, last: dict, top: int = 30) -> list[tuple[int, int, str, str]]:
    """What grew most between two snapshots: (bytes more, objects more, type, name), largest growth first."""
    a, b = by_name(first), by_name(last)
    rows = [(b.get(k, (0, 0))[1] - a.get(k, (0, 0))[1], b.get(k, (0, 0))[0] - a.get(k, (0, 0))[0], *k) for k in a | b]
    return sorted(rows, reverse=True)[:top]


def main(argv: list[str] | None = None) -> int:
    """`python -m streams.bench.heap_snapshot FIRST [SECOND] LAST`: the categories of the first and last, what
    grew most, and with a SECOND snapshot of the same session what LAST still holds of the objects born between
    FIRST and SECOND."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("snapshots", type=Path, nargs="+", metavar="SNAPSHOT", help="FIRST [SECOND] LAST")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    if len(args.snapshots) not in (2, 3):
        parser.error("give two snapshots, or three of one session")
    taken = [json.loads(p.read_text()) for p in args.snapshots]
    first, last = taken[0], taken[-1]
    one, two = breakdown(first), breakdown(last)
    for category in CATEGORIES:
        print(f"{category:8s} {one[category]:>12,d} -> {two[category]:>12,d} B ({two[category] - one[category]:+,d})")
    for size, count, kind, name in grown(first, last, args.top):
        print(f"{size:+12,d} B {count:+8,d}  {kind}: {name}")
    if len(taken) == 3:
        sizes, rows = survivors(last, highest_id(taken[0]), highest_id(taken[1]))
        print("still held of what was born between the first two:")
        for category in CATEGORIES:
            print(f"{category:8s} {sizes[category]:>12,d} B")
        for size, count, kind, name in rows[: args.top]:
            print(f"{size:12,d} B {count:8,d}  {kind}: {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
