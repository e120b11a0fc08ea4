"""What a planned batch tells the alert engine."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from schemas.records import PostKind
from schemas.watch import WatchConfig
from streams.alerts.signals import SignalPlanner
from streams.core.batch import plan_batch
from streams.core.intake import Limits
from streams.core.log_record import LogRecord
from streams.core.scoring import Scorer
from tests.fixtures.batch_state import DictState

NOW = datetime.now(UTC)


@pytest.fixture
def watch(watch_config) -> WatchConfig:
    alerts = {
        "rules": {"brands": {"nordair": {"keyword": {"query": "lawsuit"}, "key_person": {"min_followers": 100_000}}}}
    }
    return WatchConfig.model_validate(watch_config.model_dump() | {"alerts": alerts})


def record(offset: int, text: str, author: str = "a", followers: int = 20, partition: int = 1, **extra) -> LogRecord:
    post = {
        "source": "x",
        "source_id": str(offset),
        "created_at": NOW.isoformat(),
        "text": text,
        "author": {"id": author, "handle": author, "followers": followers},
        **extra,
    }
    return LogRecord("t.posts.raw", partition, offset, 1_000, author.encode(), orjson.dumps(post))


def plan(watch, records):
    return plan_batch(records, DictState(), Scorer(watch), Limits(), NOW)


def test_notable_posts_shares_partials_and_the_watermark_of_each_partition(watch):
    writes = plan(
        watch,
        [
            record(0, "@nordair lawsuit filed"),
            record(1, "@nordair hi", author="famous", followers=250_000),
            record(2, "@nordair hi", author="ingrid_news"),
            record(3, "@nordair hi"),
            record(4, "@nordair so true", kind="repost", referenced_id="x:1"),
            record(5, "nothing watched", partition=2),
        ],
    )
    signals, failures = SignalPlanner(watch).signals(writes)
    assert failures == []
    one, two = signals
    assert (one.raw_partition, one.last_offset, two.raw_partition, two.partials) == (1, 4, 2, ())
    assert [(p.raw_offset, p.keyword, [k.handle for k in p.key_people]) for p in one.posts] == [
        (0, True, []),
        (1, False, []),
        (2, False, ["ingrid_news"]),
    ]
    assert [(s.referenced_id, s.kind) for s in one.shares] == [("x:1", PostKind.REPOST)]
    assert [m.posts for m in one.partials] == [5]
    assert two.watermark_s == int(NOW.timestamp()), "a partition of unmatched posts still moves the engine's time"


def test_a_post_whose_signal_fails_is_reported_and_the_rest_go_on(watch, monkeypatch):
    planner = SignalPlanner(watch)
    real = planner.notable

    def notable(event):
        if event.evidence.raw_offset == 1:
            raise ValueError("bad text")
        return real(event)

    monkeypatch.setattr(planner, "notable", notable)
    signals, failures = planner.signals(plan(watch, [record(0, "@nordair lawsuit"), record(1, "@nordair lawsuit")]))
    assert [(f.partition, f.offset, f.reason) for f in failures] == [
        (1, 1, "alert signal: handling failed: ValueError: bad text")
    ]
    assert [p.raw_offset for p in signals[0].posts] == [0]
