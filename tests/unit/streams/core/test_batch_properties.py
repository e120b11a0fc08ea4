"""Properties of the batch over arbitrary streams: every record and every post is accounted for exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.records import merge_partials
from schemas.watch import load_watch_config
from streams.core.batch import plan_batch
from streams.core.intake import Limits
from streams.core.log_record import LogRecord
from streams.core.scoring import Scorer
from tests.fixtures.batch_state import DictState
from tests.fixtures.factories import REPO, raw_post

NOW = datetime.now(UTC)
TEXTS = ["@nordair lost my bag", "Skyline and Nordair both late", "nice weather", "@ingrid_newſ on #nordair", ""]

good = st.builds(
    lambda sid, text, followers: raw_post(sid, sid % 3, text, NOW, followers),
    st.integers(0, 30),  # few ids: repeats are common; authors 0..2
    st.sampled_from(TEXTS) | st.text(max_size=40),
    st.integers(0, 2**40),
)
hostile = st.binary(max_size=60) | st.just(b"null") | st.none()


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer(load_watch_config(REPO / "config" / "watch.yaml"))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(good | hostile, max_size=40), split=st.integers(0, 40))
def test_every_record_counts_once_however_the_stream_is_batched_and_replayed(scorer, values, split):
    records = [LogRecord("t.posts.raw", 0, i, 0, None, v) for i, v in enumerate(values)]
    state = DictState()
    scored = 0

    def plan(batch):
        nonlocal scored
        w = state.apply(plan_batch(batch, state, scorer, Limits(), NOW))
        scored += len(w.scored)
        return w

    plan(records[:split])
    plan(records[split:])
    plan(records)  # everything read again, as after a crash before any commit
    c = state.counters(0)
    assert c.posts_in == len(records)
    assert c.posts_in == c.matched + c.unmatched + c.deadlettered
    assert c.duplicates <= c.matched
    assert c.scored_records >= len(state.seen_table)
    buckets = merge_partials(b.metrics for b in state.bucket_table.values())
    assert sum(m.posts for m in buckets) == c.scored_records, "every scored record is in exactly one bucket once"
    assert all(m.unique_authors <= min(3, m.posts) for m in buckets)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    posts=st.lists(
        st.tuples(st.integers(0, 8), st.integers(0, 3), st.sampled_from(TEXTS[:2])),  # (source id, author, text)
        max_size=40,
    ),
    partitions=st.integers(2, 5),
)
def test_the_counts_do_not_depend_on_partitions_or_workers(scorer, posts, partitions):
    """One source id under several authors is several posts: counted the same on one partition of one worker
    as on many partitions each of its own worker, as long as an author's records share a partition (as
    `Post.raw_key` makes them)."""
    values = [(author, raw_post(sid, author, text, NOW)) for sid, author, text in posts]

    def totals(n_partitions: int) -> tuple:
        by_partition: list[list[LogRecord]] = [[] for _ in range(n_partitions)]
        for author, value in values:
            mine = by_partition[author % n_partitions]
            mine.append(LogRecord("t.posts.raw", author % n_partitions, len(mine), 0, None, value))
        workers = [DictState() for _ in range(n_partitions)]  # each partition owned by a worker of its own
        for state, records in zip(workers, by_partition, strict=True):
            state.apply(plan_batch(records, state, scorer, Limits(), NOW))
        c = [state.counters(p) for p, state in enumerate(workers)]
        merged = merge_partials(b.metrics for state in workers for b in state.bucket_table.values())
        return (
            sum(x.duplicates for x in c),
            sum(x.scored_records for x in c),
            sorted((m.brand, m.posts, m.unique_authors) for m in merged),
        )

    assert totals(1) == totals(partitions)
