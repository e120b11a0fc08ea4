"""Properties of the score batch over arbitrary streams: every record is accounted for exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.pipeline import PartitionCounters
from schemas.watch import load_watch_config
from streams.core.intake import Limits
from streams.core.log_record import LogRecord
from streams.core.score_batch import plan_score_batch
from streams.core.scoring import Scorer
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
            "author": {"id": "1", "handle": "a", "followers": followers},
        }
    ),
    st.integers(0, 30),  # few ids: repeats are common
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
    counters: dict[int, PartitionCounters] = {}
    seen: dict[str, list[int]] = {}
    scored = 0

    def plan(batch):
        nonlocal scored
        w = plan_score_batch(batch, lambda p: counters.get(p, PartitionCounters()), seen.get, scorer, Limits(), NOW)
        counters.update(w.counters)
        seen.update({k: e for k, (e, _) in w.seen.items()})
        scored += len(w.scored)
        return w

    plan(records[:split])
    plan(records[split:])
    plan(records)  # everything read again, as after a crash before any commit
    c = counters.get(0, PartitionCounters())
    assert c.posts_in == len(records)
    assert c.posts_in == c.matched + c.unmatched + c.deadlettered
    assert c.duplicates <= c.matched
    distinct_matched = len(seen)
    assert c.scored_records >= distinct_matched
