"""The aggregate agent's batch, planned without a broker."""

from __future__ import annotations

from schemas.records import Author
from streams.core.aggregate_batch import plan_aggregate_batch
from streams.core.log_record import LogRecord


def scored_record(offset: int, event) -> LogRecord:
    return LogRecord("t.posts.scored", 0, offset, 0, b"nordair", event.model_dump_json().encode())


def test_a_batch_folds_posts_into_buckets_once(scored_factory):
    a, b = Author(id="1", handle="a"), Author(id="2", handle="b")
    events = [
        scored_factory(offset=5, author=a),
        scored_factory(offset=6, author=a),
        scored_factory(offset=7, author=b),
    ]
    records = [scored_record(i, e) for i, e in enumerate(events)]
    records.append(LogRecord("t.posts.scored", 0, 3, 0, None, b"{"))
    buckets, authors = {}, {}
    writes = plan_aggregate_batch(records, buckets.get, authors.get, top_posts=3)
    ((state, partition),) = writes.buckets.values()
    assert (state.metrics.posts, state.metrics.unique_authors, partition) == (3, 2, 0)
    assert len(writes.authors) == 2
    assert [d.reason.split(":")[0] for d in writes.deadletters] == ["malformed scored post"]
    assert writes.progress == {0: 3}

    buckets.update({k: s for k, (s, _) in writes.buckets.items()})
    authors.update({k: e for k, (e, _) in writes.authors.items()})
    again = plan_aggregate_batch(records[:3], buckets.get, authors.get, top_posts=3)
    assert again.buckets == {} and again.authors == {}
    assert [m.posts for m in again.metrics.values()] == [3], "the metrics record is sent again, unchanged"
