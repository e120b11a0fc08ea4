"""Operators' corrections in the counts (`streams.core.correction`), without a broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.alerts import Action, SentimentCorrection
from schemas.records import BucketMetrics, TopPost
from schemas.topics import RECORD_KIND, RECORD_KIND_ACTION
from streams.core import correction
from streams.core.aggregate import BucketState, bucket_start
from streams.core.log_record import LogRecord
from streams.core.scoring import Scorer
from tests.unit.streams.core.test_batch import State, post_bytes, raw

CREATED = datetime(2026, 12, 7, 4, 0, 12, tzinfo=UTC)
AT = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
LABELS = ("negative", "neutral", "positive")


def action(post_id="x:17", old="positive", new="negative", at=AT, partition=2, offset=12, created=CREATED) -> Action:
    return Action(
        id=f"action-{post_id}-{new}-{at.timestamp()}",
        kind="correct_sentiment",
        at=at,
        by="ana",
        brand="nordair",
        correction=SentimentCorrection(
            post_id=post_id,
            brand="nordair",
            created_at=created,
            old_label=old,
            new_label=new,
            raw_partition=partition,
            raw_offset=offset,
        ),
    )


def bucket(positive=3, neutral=0, negative=1, high_water=40, top=()) -> BucketState:
    metrics = BucketMetrics(
        brand="nordair",
        bucket_start=bucket_start(CREATED),
        raw_partition=2,
        posts=positive + neutral + negative,
        originals=positive + neutral + negative,
        positive=positive,
        neutral=neutral,
        negative=negative,
        top_posts=top,
    )
    return BucketState(metrics=metrics, high_water=high_water)


def counts(state: BucketState) -> tuple[int, int, int]:
    m = state.metrics
    return m.positive, m.neutral, m.negative


def test_the_docstring_scenario():
    state, rejected = correction.apply(bucket(), action(), 41)
    assert rejected is None and counts(state) == (2, 0, 2) and state.high_water == 41
    assert state.corrected == {"x:17": ("negative", int(AT.timestamp() * 1000))}

    later = AT + timedelta(minutes=5)
    state, _ = correction.apply(state, action(old="positive", new="neutral", at=later), 42)
    assert counts(state) == (2, 1, 1), "moved from the stored label, not from old_label"

    state, rejected = correction.apply(state, action(), 43)  # the first action, forwarded again
    assert rejected is None and counts(state) == (2, 1, 1) and state.high_water == 43

    again, rejected = correction.apply(state, action(old="positive", new="neutral", at=later), 42)
    assert again is state and rejected is None, "a record read again after a crash changes nothing"


def test_what_cannot_be_applied_says_why():
    _, rejected = correction.apply(None, action(), 41)
    assert rejected is not None and "has left the worker's state" in rejected.reason
    _, rejected = correction.apply(bucket(high_water=10), action(offset=12), 41)
    assert rejected is not None and "was not counted here" in rejected.reason
    _, rejected = correction.apply(bucket(positive=0, neutral=4), action(), 41)
    assert rejected is not None and "no positive post to move to negative" in rejected.reason


def test_a_confirmation_moves_nothing_but_is_remembered():
    state, rejected = correction.apply(bucket(), action(old="positive", new="positive"), 41)
    assert rejected is None and counts(state) == (3, 0, 1) and state.corrected["x:17"][0] == "positive"


def test_a_top_post_shows_the_corrected_label():
    top = (
        TopPost(
            post_id="x:17", author_handle="a", reach=900, compound=0.7, text="thanks for the delay", label="positive"
        ),
        TopPost(post_id="x:18", author_handle="b", reach=10, compound=-0.5, text="late", label="negative"),
    )
    state, _ = correction.apply(bucket(top=top), action(), 41)
    assert [(t.post_id, t.label, t.compound) for t in state.metrics.top_posts] == [
        ("x:17", "negative", 0.7),  # the compound stays the model's
        ("x:18", "negative", -0.5),
    ]


def test_forward_goes_to_the_partition_that_counted_the_post():
    f = correction.forward(action(partition=2), partitions=4)
    assert isinstance(f, correction.Forward)
    assert (f.partition, f.key, f.headers) == (2, b"x:17", ((RECORD_KIND, RECORD_KIND_ACTION),))
    assert Action.model_validate_json(f.value) == action(partition=2)

    rejected = correction.forward(action(partition=7), partitions=4)
    assert isinstance(rejected, correction.Rejected) and "raw partition 7 does not exist" in rejected.reason

    by_hand = action()
    by_hand = by_hand.model_copy(update={"correction": by_hand.correction.model_copy(update={"raw_partition": None})})
    assert correction.forward(by_hand, partitions=4) is None
    ack = Action(id="a", kind="ack", at=AT, by="ana", brand="nordair", fingerprint="f")
    assert correction.forward(ack, partitions=4) is None


@settings(max_examples=200, deadline=None)
@given(
    model_labels=st.lists(st.sampled_from(LABELS), min_size=1, max_size=6),
    corrections=st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from(LABELS), st.integers(0, 20)), min_size=1, max_size=12
    ),
    replays=st.lists(st.integers(0, 11), max_size=6),
)
def test_counts_follow_each_posts_newest_correction_whatever_the_order_and_repeats(model_labels, corrections, replays):
    """Posts labelled by the model; corrections (post, label, minute of the action) forwarded in log order, some
    forwarded again later (the alert agent re-reads actions after a crash): each post counts once, under its
    newest correction's label (ties: the first forwarded), else the model's."""
    n = len(model_labels)
    state = bucket(
        positive=model_labels.count("positive"),
        neutral=model_labels.count("neutral"),
        negative=model_labels.count("negative"),
        high_water=n - 1,
    )
    shown = dict(enumerate(model_labels))  # what the view shows: the operator's old label
    log = [(i % n, label, minute) for i, label, minute in corrections]
    log += [log[r] for r in replays if r < len(log)]
    newest: dict[int, tuple[int, str]] = {}
    for offset, (post, label, minute) in enumerate(log, start=n):
        a = action(f"x:{post}", shown[post], label, AT + timedelta(minutes=minute), offset=post)
        state, rejected = correction.apply(state, a, offset)
        assert rejected is None
        if post not in newest or minute > newest[post][0]:
            newest[post] = (minute, label)
            shown[post] = label
    expected = [newest[i][1] if i in newest else model_labels[i] for i in range(n)]
    assert counts(state) == (expected.count("positive"), expected.count("neutral"), expected.count("negative"))
    assert state.metrics.posts == n


def forwarded(offset: int, a: Action, partition: int = 1) -> LogRecord:
    f = correction.forward(a, partitions=4)
    assert isinstance(f, correction.Forward)
    return LogRecord("t.posts.raw", partition, offset, 1_000, f.key, f.value, f.headers)


def test_a_batch_moves_the_post_in_its_bucket_and_counts_the_record_as_a_correction(watch_config):
    scorer, state = Scorer(watch_config), State()
    first = state.plan(scorer, [raw(0, post_bytes("@nordair thank you, a lovely flight"))])
    ((key, (before, _)),) = first.buckets.items()
    assert (before.metrics.positive, before.metrics.negative) == (1, 0)
    post_id = first.posts[0].post.id
    created = first.posts[0].post.created_at

    fix = action(post_id, "positive", "negative", partition=1, offset=0, created=created)
    records = [forwarded(1, fix), raw(2, post_bytes("@nordair lost my bag", source_id="2"))]
    writes = state.plan(scorer, records)
    m = writes.metrics[key]
    assert (m.posts, m.positive, m.negative) == (2, 0, 2)
    c = writes.counters[1]
    assert (c.posts_in, c.matched, c.corrections, c.last_offset) == (2, 2, 1, 2)
    assert writes.deadletters == []

    again = state.plan(scorer, records)
    assert again.buckets == {} and again.counters[1] == c, "nothing applied twice after a crash"


def test_a_batch_deadletters_a_correction_it_cannot_apply(watch_config):
    scorer, state = Scorer(watch_config), State()
    gone = forwarded(0, action("x:1", partition=1, offset=0))
    not_an_action = LogRecord("t.posts.raw", 1, 1, 1_000, b"k", orjson.dumps({"kind": "ack"}), gone.headers)
    writes = state.plan(scorer, [gone, not_an_action])
    assert [d.record.offset for d in writes.deadletters] == [0, 1]
    assert "has left the worker's state" in writes.deadletters[0].reason
    c = writes.counters[1]
    assert (c.posts_in, c.deadlettered, c.corrections) == (2, 2, 0)
