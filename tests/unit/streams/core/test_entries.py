"""Entries in memory, written as one delta per raw partition per batch."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.watch import load_watch_config
from streams.core.batch import plan_batch
from streams.core.entries import EntryStore, delta_partition, entry_deltas
from streams.core.intake import Limits
from streams.core.log_record import LogRecord
from streams.core.scoring import Scorer
from tests.fixtures.batch_state import DictState
from tests.fixtures.factories import REPO, raw_post

MINUTE = 29_602_542
AUTHOR_KEY = f"nordair|{(MINUTE + 1) * 60}|2|a"  # a partial bucket of the next minute


def test_a_batchs_new_entries_make_one_delta_per_partition_keyed_by_its_first_record():
    deltas = entry_deltas(
        seen={"x:1:a:7": ([2, 41, MINUTE], 2), "x:1:b:8": ([3, 9, MINUTE], 3)},
        authors={AUTHOR_KEY: ([2, 40], 2)},
    )
    assert sorted(deltas) == [2, 3]
    key, delta = deltas[2]
    assert key == "2|40" and delta_partition(key) == 2
    assert delta == {"minute": MINUTE + 1, "seen": {"x:1:a:7": [2, 41, MINUTE]}, "authors": {AUTHOR_KEY: [2, 40]}}
    assert deltas[3][0] == "3|9"
    assert entry_deltas({}, {}) == {}


def test_entries_expire_by_their_minute_and_a_delta_with_its_newest():
    store = EntryStore()
    key, delta = entry_deltas({"x:1:a:7": ([2, 41, MINUTE], 2)}, {AUTHOR_KEY: ([2, 40], 2)})[2]
    store.apply(key, delta)
    assert store.seen("x:1:a:7") == [2, 41, MINUTE] and store.author(AUTHOR_KEY) == [2, 40]

    assert store.expire(3, MINUTE + 10).deltas == [], "another partition's clock"
    early = store.expire(2, MINUTE + 1)
    assert (early.deltas, early.seen, early.authors) == ([], ["x:1:a:7"], [])
    store.forget(early)
    assert store.seen("x:1:a:7") is None and store.author(AUTHOR_KEY) == [2, 40]
    late = store.expire(2, MINUTE + 2)
    assert (late.deltas, late.authors) == ([key], [AUTHOR_KEY])
    store.forget(late)
    assert len(store) == 0


def test_rebuilding_from_recovered_deltas_replaces_what_the_store_held():
    store = EntryStore()
    store.apply("0|1", {"minute": MINUTE, "seen": {"stale": [0, 1, MINUTE]}, "authors": {}})
    store.rebuild([("1|5", {"minute": MINUTE, "seen": {"x:1:a:7": [1, 5, MINUTE]}, "authors": {}})])
    assert store.seen("stale") is None and store.seen("x:1:a:7") == [1, 5, MINUTE]
    assert store.expire(1, MINUTE + 1).deltas == ["1|5"]


# -- over arbitrary streams ------------------------------------------------------------------------------


NOW = datetime.now(UTC)
SCORER = Scorer(load_watch_config(REPO / "config" / "watch.yaml"))


class DeltaState(DictState):
    """The batch's state with entries from deltas, as the agent keeps them; remembers every delta written."""

    def __init__(self) -> None:
        super().__init__()
        self.store = EntryStore()
        self.written: dict[str, dict] = {}

    def seen(self, key):
        return self.store.seen(key)

    def author(self, key):
        return self.store.author(key)

    def plan(self, records):
        writes = plan_batch(records, self, SCORER, Limits(), NOW)
        for key, delta in entry_deltas(writes.seen, writes.authors).values():
            assert key not in self.written, f"delta {key} written twice"
            self.written[key] = delta
            self.store.apply(key, delta)
        self.counter_table.update(writes.counters)
        self.bucket_table.update({k: s for k, (s, _) in writes.buckets.items()})
        return writes


post = st.builds(
    lambda sid, author, text: raw_post(sid, author, text, NOW),
    st.integers(0, 20),
    st.integers(0, 4),
    st.sampled_from(["@nordair lost my bag", "Skyline and Nordair both late", "nice weather"]),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(post, max_size=40), cuts=st.lists(st.integers(0, 40), max_size=4), replay=st.integers(0, 40))
def test_deltas_count_as_entries_do_and_never_share_a_key(values, cuts, replay):
    """However the stream is cut into batches, and read again from any offset (a crash before a commit),
    the entries from deltas count exactly as one table record per entry does, and no delta key repeats."""
    records = [LogRecord("t.posts.raw", 0, i, 0, None, v) for i, v in enumerate(values)]
    reference, deltas = DictState(), DeltaState()
    bounds = [0, *sorted(cuts), len(records)]
    for lo, hi in itertools.pairwise(bounds):
        reference.apply(plan_batch(records[lo:hi], reference, SCORER, Limits(), NOW))
        deltas.plan(records[lo:hi])
    deltas.plan(records[replay:])
    assert deltas.counters(0) == reference.counters(0)
    assert deltas.bucket_table == reference.bucket_table
    assert {k for d in deltas.written.values() for k in d["seen"]} == set(reference.seen_table)
    assert {k for d in deltas.written.values() for k in d["authors"]} == set(reference.author_table)
