"""The worker's batch, planned without a broker."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from schemas.records import ScoredPost
from streams.core.batch import failure_reason, plan_batch
from streams.core.intake import Limits
from streams.core.log_record import LogRecord
from streams.core.scoring import Scorer
from tests.fixtures.batch_state import DictState

NOW = datetime.now(UTC)


def raw(offset: int, value: bytes | None, partition: int = 1) -> LogRecord:
    return LogRecord("t.posts.raw", partition, offset, 1_000, b"k", value)


def post_bytes(text: str, source_id: str = "1", **extra) -> bytes:
    data = {
        "source": "x",
        "source_id": source_id,
        "created_at": NOW.isoformat(),
        "text": text,
        "author": {"id": "42", "handle": "someone"},
    }
    data.update(extra)
    return orjson.dumps(data)


class State(DictState):
    def plan(self, scorer, records):
        return self.apply(plan_batch(records, self, scorer, Limits(), NOW))


@pytest.fixture
def scorer(watch_config) -> Scorer:
    return Scorer(watch_config)


def test_a_batch_counts_every_record_once_and_deadletters_the_bad_ones(scorer):
    state = State()
    records = [
        raw(0, post_bytes("delayed again @nordair")),
        raw(1, post_bytes("the weather is nice", source_id="2")),
        raw(2, b"\xff"),
        raw(3, post_bytes("delayed again @nordair", engagement={"likes": 1})),  # the same post, delivered again
    ]
    writes = state.plan(scorer, records)
    assert [ScoredPost.model_validate_json(v).brand for _, v in writes.scored] == ["nordair"]
    assert [d.reason for d in writes.deadletters] == ["invalid UTF-8 at byte 0"]
    c = writes.counters[1]
    assert (c.posts_in, c.matched, c.unmatched, c.deadlettered, c.duplicates, c.scored_records) == (4, 2, 1, 1, 1, 1)
    assert c.last_offset == 3 and c.posts_in == c.matched + c.unmatched + c.deadlettered

    ((key, (bucket, partition)),) = writes.buckets.items()
    assert key.startswith("nordair|") and key.endswith("|1") and partition == 1
    assert (bucket.metrics.posts, bucket.metrics.unique_authors, bucket.metrics.raw_partition) == (1, 1, 1)
    assert len(writes.authors) == 1 and list(writes.metrics) == [key]

    again = state.plan(scorer, records)  # read again after a crash before the commit
    assert again.counters[1] == c, "nothing is counted twice"
    assert again.buckets == {} and again.authors == {}, "nothing is folded twice"
    assert len(again.scored) == 1, "the first delivery is sent again (readers of posts.scored dedup by evidence)"
    assert again.metrics[key].posts == 1, "the metrics record is sent again, unchanged"


def test_partials_of_one_brand_spread_over_partitions_and_count_authors_once(scorer):
    state = State()
    records = [
        raw(0, post_bytes("@nordair late", "1"), partition=0),
        raw(1, post_bytes("@nordair late again", "2"), partition=0),  # same author (42), same partition
        raw(0, post_bytes("@nordair fine", "3", author={"id": "7", "handle": "b"}), partition=3),
    ]
    writes = state.plan(scorer, records)
    by_partition = {p: b.metrics for b, p in writes.buckets.values()}
    assert {p: (m.posts, m.unique_authors) for p, m in by_partition.items()} == {0: (2, 1), 3: (1, 1)}


def test_a_crash_between_writes_counts_nothing_twice(scorer):
    """The bucket was written but not the counters (a crash between the sends): the records are planned
    again from the old counters; the bucket's high-water mark and the author entry keep them from counting
    twice."""
    records = [
        raw(i, post_bytes(f"@nordair number {i}", str(i), author={"id": str(i % 2), "handle": "a"})) for i in range(4)
    ]
    state = State()
    writes = plan_batch(records, state, scorer, Limits(), NOW)
    state.bucket_table.update({k: s for k, (s, _) in writes.buckets.items()})  # only the buckets landed
    state.author_table.update({k: e for k, (e, _) in writes.authors.items()})
    again = state.plan(scorer, records)
    assert again.counters[1].posts_in == 4 and again.buckets == {}
    ((m),) = again.metrics.values()
    assert (m.posts, m.unique_authors) == (4, 2)


def test_a_repeat_hours_later_in_another_batch_is_a_duplicate(scorer):
    state = State()
    state.plan(scorer, [raw(0, post_bytes("@nordair lost my bag", source_id="77"))])
    writes = state.plan(scorer, [raw(900, post_bytes("@nordair lost my bag", source_id="77"))])
    assert writes.scored == [] and writes.counters[1].duplicates == 1


def test_a_record_whose_handling_raises_is_deadlettered_and_the_batch_goes_on(scorer, monkeypatch):
    state = State()

    def explode(post, evidence):
        if "boom" in post.text:
            raise KeyError("ingrid_newſ")
        return Scorer.score(scorer, post, evidence)

    monkeypatch.setattr(scorer, "score", explode)
    writes = state.plan(scorer, [raw(0, post_bytes("@nordair boom")), raw(1, post_bytes("@nordair ok", "2"))])
    assert [d.reason for d in writes.deadletters] == ["handling failed: KeyError: 'ingrid_newſ'"]
    assert writes.counters[1].deadlettered == 1 and writes.counters[1].matched == 1


def test_the_inputs_that_crashed_the_worker_are_handled(scorer):
    state = State()
    records = [raw(i, post_bytes(f"@nordair cc @ingrid_newſ number {i}", source_id=str(i))) for i in range(5)]
    records += [
        raw(5, None),
        raw(6, post_bytes("@nordair", "9", author={"id": "1", "handle": "a", "followers": 2**62})),
    ]
    writes = state.plan(scorer, records)
    assert writes.counters[1].matched == 5, "the long s matches the key person and does not crash matching"
    assert "ingrid_news" in writes.scored[0][1].decode()
    assert [d.reason.split(":")[0] for d in writes.deadletters] == ["empty record", "invalid field author.followers"]


def test_failure_reason_keeps_the_last_line():
    assert failure_reason(ValueError("first\nlast")) == "handling failed: ValueError: last"
    assert failure_reason(RuntimeError()) == "handling failed: RuntimeError"


def test_history_is_as_young_as_its_own_stream(scorer):
    """A partition's first posts from 2015 are counted in their own minutes; a 2015 post after today's posts
    of the same partition is older than the stream accepts and goes to the deadletter topic."""
    state = State()
    old = "2015-02-24T10:00:00+00:00"
    writes = state.plan(
        scorer,
        [
            raw(0, post_bytes("delayed again @nordair", created_at=old)),
            raw(1, post_bytes("still delayed @nordair", source_id="2", created_at="2015-02-24T10:01:30+00:00")),
            raw(2, post_bytes("now @nordair", source_id="3")),
            raw(3, post_bytes("late @nordair", source_id="4", created_at=old)),
        ],
    )
    minutes = sorted(b.metrics.bucket_start.strftime("%Y-%m-%d %H:%M") for b, _ in writes.buckets.values())
    assert minutes[:2] == ["2015-02-24 10:00", "2015-02-24 10:01"]
    assert [d.record.offset for d in writes.deadletters] == [3]
    assert "before the stream's time" in writes.deadletters[0].reason
