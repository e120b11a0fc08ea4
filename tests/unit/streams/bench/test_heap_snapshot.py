from streams.bench.heap_snapshot import breakdown, by_name, grown, highest_id, survivors


def snapshot(*nodes: tuple[str, int], ids: list[int] | None = None) -> dict:
    types = ["hidden", "object", "code", "string", "closure", "native", "concatenated string"]
    fields = ["type", "name", "id", "self_size", "edge_count"]
    flat: list[int] = []
    for i, (kind, size) in enumerate(nodes):
        flat += [types.index(kind), 0, ids[i] if ids else 2 * i + 1, size, 0]
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


def test_survivors_are_what_the_last_holds_of_what_was_born_between_the_first_two():
    first = snapshot(("object", 8), ("object", 8), ("code", 8), ids=[1, 3, 5])
    second = snapshot(("object", 8), ("object", 16), ("code", 40), ids=[1, 7, 9])
    last = snapshot(("object", 8), ("code", 40), ("object", 24), ("string", 12), ids=[1, 9, 11, 13])
    low, high = highest_id(first), highest_id(second)
    assert (low, high) == (5, 9)
    held, rows = survivors(last, low, high)
    # 7 (born in between) died, 9 (code) is held; 11 and 13 were born after the second snapshot
    assert held == {"objects": 0, "strings": 0, "native": 0, "code": 40}
    assert [(size, count, kind) for size, count, kind, _ in rows] == [(40, 1, "code")]


def test_survivors_of_an_empty_window_are_nothing():
    taken = snapshot(("object", 8), ids=[1])
    assert survivors(taken, highest_id(taken), highest_id(taken)) == (
        {"objects": 0, "strings": 0, "native": 0, "code": 0},
        [],
    )
