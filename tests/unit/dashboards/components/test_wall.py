"""The wall's rendering helpers: freshness (stalled before unreachable before stale before live), the
counters, and post text that stays text."""

from datetime import UTC, datetime

from dashboards.components.wall import brand_tile, counters, freshness, post_line, sources_line, tile_body
from dashboards.data import WallView, stalled_for_s
from dashboards.wall_model import PostLine, tile
from schemas.pipeline import PartitionCounters, counter_totals, pipeline_status
from schemas.source_health import SourceReport
from tests.unit.dashboards.test_wall_model import NOW as MODEL_NOW
from tests.unit.dashboards.test_wall_model import brand, bucket

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
    assert "live" in freshness(view(NOW_MS - 3000), NOW)[0].children
    assert "STALE" in freshness(view(NOW_MS - 10 * 60_000), NOW)[0].children
    assert "no data yet" in freshness(view(None), NOW)[0].children
    assert "no worker" in freshness(view(None, configured=False), NOW)[0].children


def test_a_stalled_pipeline_is_never_live():
    status, waited = stalled(first_waiting_ago_s=45)
    assert status.stalled and waited == 45
    # Redis was written 3 s ago (another partition, say), yet records have waited 45 s on partition 0.
    line, banner = freshness(view(NOW_MS - 3000, pipeline=status, stalled_for=waited), NOW)
    assert banner.startswith("STALLED") and banner.endswith("the wall is not live")
    assert line.children == "STALLED: 35 records waiting, nothing handled for 45 s"
    assert line.className == "fresh fresh--stalled"
    # Stalled outranks stale and "no worker yet" as well.
    assert freshness(view(NOW_MS - 10 * 60_000, pipeline=status, stalled_for=waited), NOW)[0].children.startswith(
        "STALLED"
    )
    never = pipeline_status({0: 1}, {}, NOW_MS)  # nothing ever handled, the waiting record's time unknown
    line, _ = freshness(view(None, configured=False, pipeline=never, stalled_for=None), NOW)
    assert line.children == "STALLED: 1 record waiting, nothing handled yet"


def test_records_waiting_less_than_the_threshold_are_still_live():
    status, waited = stalled(first_waiting_ago_s=10)
    assert not status.stalled and status.lag == 35 and waited is None
    assert freshness(view(NOW_MS - 3000, pipeline=status), NOW)[0].children == "live"


def test_kafka_unreachable_comes_before_stale_and_live():
    line, banner = freshness(unreachable(NOW_MS - 3000), NOW)
    assert banner == "KAFKA UNREACHABLE · last update 3 s ago"
    assert line.children == "Kafka unreachable · last update 3 s ago"
    assert line.className == "fresh fresh--kafka"
    assert freshness(unreachable(NOW_MS - 10 * 60_000), NOW)[0].children == "Kafka unreachable · last update 10 min ago"
    assert freshness(unreachable(None), NOW)[0].children == "Kafka unreachable"


def test_counters_say_what_they_mean_and_duplicates_only_when_there_are_some():
    totals = counter_totals({0: PartitionCounters(posts_in=1200, matched=900, unmatched=290, deadlettered=10)})
    spans = counters(totals)
    assert [(s.id, s.children[0].children, s.children[1]) for s in spans] == [
        ("counter-posts_in", "1,200", " posts in"),
        ("counter-matched", "900", " about a watched brand"),
        ("counter-unmatched", "290", " about none"),
        ("counter-deadlettered", "10", " refused (deadletter)"),
    ]
    with_duplicates = counters(totals | {"duplicates": 3})
    assert with_duplicates[-1].id == "counter-duplicates" and with_duplicates[-1].children[1] == " repeats dropped"


def test_post_text_is_a_plain_string_child_and_links_only_when_safe():
    li = post_line(PostLine("x", 10, "negative", "<script>alert(1)</script>", None))
    author, _reach, text = li.children
    assert text.children == "<script>alert(1)</script>" and text.dir == "auto"
    assert li.className == "post post--negative" and not hasattr(author, "href")
    linked = post_line(PostLine("x", 10, "neutral", "t", "https://x.example/p"))
    assert linked.children[0].href == "https://x.example/p" and linked.children[0].rel == "noopener noreferrer"


def test_a_tile_has_its_brand_its_role_and_its_count():
    t = tile(brand([bucket(1, 7)], role="competitor", id_="skyline"), [], MODEL_NOW)
    div = brand_tile(t, "normal")
    assert div.id == {"type": "wall-tile", "brand": "skyline"} and "tile--competitor" in div.className
    assert "tile--calm" in div.className
    assert "data-posts='7'" in repr(div)


def test_a_dense_firing_tile_leaves_out_the_top_post_for_its_alert():
    from tests.unit.dashboards.test_wall_model import AlertStatus, alert

    t = tile(brand([bucket(1, 7)], firing=[alert("volume_spike", AlertStatus.FIRING, 3)]), [], MODEL_NOW)
    assert "tile-posts" not in str(tile_body(t, "dense")) and "VOLUME SPIKE" in str(tile_body(t, "dense"))


def report(
    source: str,
    state: str = "connected",
    *,
    post_ago_s: float | None = None,
    alive_ago_s: float = 1,
    reported_ago_s: float = 1,
) -> SourceReport:
    return SourceReport(
        source=source,
        state=state,
        reported_ms=NOW_MS - int(reported_ago_s * S),
        heartbeat_ms=NOW_MS - int(alive_ago_s * S),
        last_event_ms=0 if post_ago_s is None else NOW_MS - int(post_ago_s * S),
    )


def test_each_source_shows_live_no_mentions_or_no_data_and_a_silent_one_raises_the_banner():
    live = report("x", post_ago_s=5)
    quiet = report("mastodon", post_ago_s=600, alive_ago_s=3)
    gone = report("bluesky", post_ago_s=100, alive_ago_s=100, reported_ago_s=100)
    shown = WallView([], counter_totals({}), NOW_MS - 3000, True, caught_up(), None, [live, quiet, gone])
    spans = sources_line(shown, NOW)
    assert [(s.children[0].children, s.className) for s in spans] == [
        ("bluesky", "source source--no_data"),
        ("mastodon", "source source--no_mentions"),
        ("x", "source source--live"),
    ]
    assert spans[0].children[2] == "no data for 100 s (source not reporting)"
    line, banner = freshness(shown, NOW)
    assert line.children == "live"  # the pipeline is live ...
    assert banner == "BLUESKY: NO DATA FOR 100 S (SOURCE NOT REPORTING) — posts there are not seen"  # ... bluesky not
    calm = WallView([], counter_totals({}), NOW_MS - 3000, True, caught_up(), None, [live, quiet])
    assert freshness(calm, NOW)[1] is None
    assert sources_line(view(NOW_MS - 3000), NOW) == []  # no source reports: nothing to show


def test_the_language_line_names_the_mix_and_the_unscored_share():
    from dataclasses import replace

    from dashboards.components.wall import language_line

    t = tile(brand([bucket(1, 5)]), [], MODEL_NOW)
    assert language_line(replace(t, languages=(("en", 1.0),), unscored_share=0.0)) == ""  # one language: nothing
    mixed = replace(t, languages=(("en", 0.8), ("da", 0.1), ("de", 0.1)), unscored_share=0.1)
    assert language_line(mixed) == "en 80% · da 10% · de 10% · 10% unscored"
