"""The wall's rendering helpers: freshness, and post text that stays text."""

from datetime import UTC, datetime

from dashboards.components.wall import brand_tile, freshness, post_line
from dashboards.data import BrandView, WallView
from schemas.redis_keys import counter_totals

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def view(updated_ms: int | None, configured: bool = True) -> WallView:
    return WallView([], counter_totals({}), updated_ms, configured)


def test_freshness_tells_live_from_stale_from_nothing():
    now_ms = int(NOW.timestamp() * 1000)
    assert "live" in freshness(view(now_ms - 3000), NOW).children
    assert "STALE" in freshness(view(now_ms - 10 * 60_000), NOW).children
    assert "no data yet" in freshness(view(None), NOW).children
    assert "no worker" in freshness(view(None, configured=False), NOW).children


def test_post_text_is_a_plain_string_child():
    li = post_line({"author_handle": "x", "text": "<script>alert(1)</script>", "label": "negative"})
    _author, text = li.children
    assert text.children == "<script>alert(1)</script>"
    assert li.className == "post post--negative"


def test_tile_carries_its_count_for_tests_and_its_role():
    tile = brand_tile(BrandView("skyline", "Skyline", "competitor", [], []), NOW)
    assert tile.id == "tile-skyline"
    assert "tile--competitor" in tile.className
