from streams.bench.heap_snapshot import breakdown


def snapshot(*nodes: tuple[str, int]) -> dict:
    types = ["hidden", "object", "code", "string", "closure", "native", "concatenated string"]
    fields = ["type", "name", "id", "self_size", "edge_count"]
    flat: list[int] = []
    for i, (kind, size) in enumerate(nodes):
        flat += [types.index(kind), 0, 2 * i + 1, size, 0]
    return {"snapshot": {"meta": {"node_fields": fields, "node_types": [types, "string"]}}, "nodes": flat}


def test_breakdown_adds_self_sizes_by_category():
    taken = snapshot(("object", 100), ("code", 40), ("string", 8), ("closure", 32), ("native", 64))
    assert breakdown(taken) == {"objects": 132, "strings": 8, "native": 64, "code": 40}


def test_every_string_kind_is_a_string_and_an_empty_heap_has_every_category():
    assert breakdown(snapshot(("concatenated string", 16), ("string", 4)))["strings"] == 20
    assert breakdown(snapshot()) == {"objects": 0, "strings": 0, "native": 0, "code": 0}
