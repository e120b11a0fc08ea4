"""The wall's rendering helpers: freshness (stalled before unreachable before stale before live), the
counters, and post text that stays text."""

from datetime import UTC, datetime

from dashboards.components.wall import brand_tile, counters, freshness, post_line
from dashboards.data import BrandView, WallView, stalled_for_s
from schemas.pipeline import PartitionCounters, counter_totals, pipeline_status

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
S = 1000


def caught_up(handled_ago_s: float = 3):
    handled = {0: PartitionCounters(last_offset=9, posts_in=10, matched=10, handled_ms=NOW_MS - int(handled_ago_s * S))}
    return pipeline_status({0: 10}, handled, NOW_MS)


def stalled(first_waiting_ago_s: float = 45):
    handled = {0: PartitionCounters(last_offset=9, posts_in=10, matched=10, handled_ms=NOW_MS - 200 * S)}
    first_waiting = {0: NOW_MS - int(first_waiting_ago_s * S)}
    status = pipeline_status({0: 45}, handled, NOW_MS, first_waiting)
    return status, stalled_for_s(status, first_waiting, NOW_MS)


def view(updated_ms: int | None, configured: bool = True, pipeline=None, stalled_for: int | None = None) -> WallView:
    pipeline = caught_up() if pipeline is None else pipeline
    return WallView([], counter_totals({}), updated_ms, configured, pipeline, stalled_for)


def unreachable(updated_ms: int | None) -> WallView:
    return WallView([], counter_totals({}), updated_ms, True, None, None)


def test_freshness_tells_live_from_stale_from_nothing():
    assert "live" in freshness(view(NOW_MS - 3000), NOW).children
    assert "STALE" in freshness(view(NOW_MS - 10 * 60_000), NOW).children
    assert "no data yet" in freshness(view(None), NOW).children
    assert "no worker" in freshness(view(None, configured=False), NOW).children


def test_a_stalled_pipeline_is_never_live():
    status, waited = stalled(first_waiting_ago_s=45)
    assert status.stalled and waited == 45
    # Redis was written 3 s ago (another partition, say), yet records have waited 45 s on partition 0.
    line = freshness(view(NOW_MS - 3000, pipeline=status, stalled_for=waited), NOW)
    assert line.children == "STALLED: 35 records waiting, nothing handled for 45 s"
    assert line.className == "fresh fresh--stalled"
    # Stalled outranks stale and "no worker yet" as well.
    assert freshness(view(NOW_MS - 10 * 60_000, pipeline=status, stalled_for=waited), NOW).children.startswith(
        "STALLED"
    )
    never = pipeline_status({0: 1}, {}, NOW_MS)  # nothing ever handled, the waiting record's time unknown
    line = freshness(view(None, configured=False, pipeline=never, stalled_for=None), NOW)
    assert line.children == "STALLED: 1 record waiting, nothing handled yet"


def test_records_waiting_less_than_the_threshold_are_still_live():
    status, waited = stalled(first_waiting_ago_s=10)
    assert not status.stalled and status.lag == 35 and waited is None
    assert freshness(view(NOW_MS - 3000, pipeline=status), NOW).children == "live · updated 3 s ago"


def test_kafka_unreachable_comes_before_stale_and_live():
    line = freshness(unreachable(NOW_MS - 3000), NOW)
    assert line.children == "Kafka unreachable · last update 3 s ago"
    assert line.className == "fresh fresh--kafka"
    assert freshness(unreachable(NOW_MS - 10 * 60_000), NOW).children == "Kafka unreachable · last update 10 min ago"
    assert freshness(unreachable(None), NOW).children == "Kafka unreachable"


def test_counters_say_what_they_mean_and_duplicates_only_when_there_are_some():
    totals = counter_totals({0: PartitionCounters(posts_in=1200, matched=900, unmatched=290, deadlettered=10)})
    spans = counters(totals)
    assert [(s.id, s.children[0].children, s.children[1]) for s in spans] == [
        ("counter-posts_in", "1,200", " posts in"),
        ("counter-matched", "900", " matched"),
        ("counter-unmatched", "290", " unmatched"),
        ("counter-deadlettered", "10", " deadletter"),
    ]
    with_duplicates = counters(totals | {"duplicates": 3})
    assert with_duplicates[-1].id == "counter-duplicates" and with_duplicates[-1].children[1] == " duplicates"


def test_post_text_is_a_plain_string_child():
    li = post_line({"author_handle": "x", "text": "<script>alert(1)</script>", "label": "negative"})
    _author, text = li.children
    assert text.children == "<script>alert(1)</script>"
    assert li.className == "post post--negative"


def test_tile_carries_its_count_for_tests_and_its_role():
    tile = brand_tile(BrandView("skyline", "Skyline", "competitor", [], []), NOW)
    assert tile.id == "tile-skyline"
    assert "tile--competitor" in tile.className
