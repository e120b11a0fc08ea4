import os

from streams.agents import engine_snapshot
from streams.agents.engine_snapshot import CHUNK_BYTES, decode, encode


def big_state(offset: int) -> dict:
    """A state that does not compress below several chunks (random text, as many distinct posts are)."""
    return {"applied_offset": offset, "noise": os.urandom(CHUNK_BYTES * 2).hex()}


def table_after(*saves: list) -> dict:
    data: dict = {}
    for writes in saves:
        for key, value in writes:
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
    return data


def test_a_state_round_trips_through_chunks_under_a_record_size():
    state = big_state(41)
    writes = encode(state, 0)
    assert len(writes) > 1
    assert all(len(value["data"]) < 1_000_000 for _, value in writes)
    assert decode(table_after(writes)) == (state, 0)


def test_a_save_cut_short_leaves_the_previous_one_whole():
    first, second = big_state(1), big_state(2)
    done = encode(first, 7)
    cut = encode(second, 8)[:-1]  # the worker died before the last chunk was out
    assert decode(table_after(done, cut)) == (first, 7)
    assert decode(table_after(done, encode(second, 8))) == (second, 8)


def test_a_smaller_save_removes_the_chunks_it_no_longer_needs():
    large = encode(big_state(1), 2)
    small = encode({"applied_offset": 5}, 4, table_after(large))
    assert [k for k, v in small if v is None] == [engine_snapshot.chunk_key(0, i) for i in range(1, len(large))]
    data = table_after(large, encode({"applied_offset": 3}, 3), small)
    assert sorted(data) == ["engine/0/0", "engine/1/0"]
    assert decode(data) == ({"applied_offset": 5}, 4)


def test_nothing_saved_and_the_single_key_of_earlier_versions():
    assert decode({}) == (None, -1)
    assert decode({"engine": {"applied_offset": 9}}) == ({"applied_offset": 9}, -1)
