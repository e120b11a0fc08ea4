from streams.bench.heap_snapshot import breakdown, by_name, grown


def snapshot(*nodes: tuple[str, int]) -> dict:
    types = ["hidden", "object", "code", "string", "closure", "native", "concatenated string"]
    fields = ["type", "name", "id", "self_size", "edge_count"]
    flat: list[int] = []
    for i, (kind, size) in enumerate(nodes):
        flat += [types.index(kind), 0, 2 * i + 1, size, 0]
    meta = {"node_fields": fields, "node_types": [types, "string"]}
    return {"snapshot": {"meta": meta}, "nodes": flat, "strings": [""] * max(1, len(nodes))}


def test_breakdown_adds_self_sizes_by_category():
    taken = snapshot(("object", 100), ("code", 40), ("string", 8), ("closure", 32), ("native", 64))
    assert breakdown(taken) == {"objects": 132, "strings": 8, "native": 64, "code": 40}


def test_every_string_kind_is_a_string_and_an_empty_heap_has_every_category():
    assert breakdown(snapshot(("concatenated string", 16), ("string", 4)))["strings"] == 20
    assert breakdown(snapshot()) == {"objects": 0, "strings": 0, "native": 0, "code": 0}


def named(*nodes: tuple[str, str, int]) -> dict:
    taken = snapshot(*((kind, size) for kind, _, size in nodes))
    names = [name for _, name, _ in nodes]
    fields = len(taken["snapshot"]["meta"]["node_fields"])
    for i in range(len(nodes)):
        taken["nodes"][i * fields + 1] = i
    return taken | {"strings": names}


def test_by_name_drops_node_ids_and_groups_strings():
    taken = named(("object", "Foo", 16), ("object", "Foo", 24), ("string", "x", 8), ("object", "scope @12", 40))
    assert by_name(taken) == {("object", "Foo"): (2, 40), ("string", "<string>"): (1, 8), ("object", "scope"): (1, 40)}


def test_grown_puts_the_largest_growth_first():
    first = named(("object", "Foo", 16), ("code", "f", 100))
    last = named(("object", "Foo", 16), ("object", "Foo", 16), ("object", "Foo", 16), ("code", "f", 90))
    assert grown(first, last) == [(32, 2, "object", "Foo"), (-10, 0, "code", "f")]
