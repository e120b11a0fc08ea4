"""Properties of the batch over arbitrary streams: every record and every post is accounted for exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
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
from tests.fixtures.factories import REPO

NOW = datetime.now(UTC)
TEXTS = ["@nordair lost my bag", "Skyline and Nordair both late", "nice weather", "@ingrid_newſ on #nordair", ""]

good = st.builds(
    lambda sid, text, followers: orjson.dumps(
        {
            "source": "x",
            "source_id": str(sid),
            "created_at": NOW.isoformat(),
            "text": text,
            "author": {"id": str(sid % 3), "handle": "a", "followers": followers},
        }
    ),
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
