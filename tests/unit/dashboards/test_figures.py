from datetime import UTC, datetime

from dashboards.figures import day_figure, day_patch, hour_figure, hour_patch
from dashboards.wall_model import day_series, hour_series
from schemas.records import BucketMetrics

NOW = datetime(2026, 12, 7, 12, 0, 30, tzinfo=UTC)


def test_the_hour_figure_and_its_patch_carry_the_same_bounded_arrays():
    series = hour_series([BucketMetrics(brand="b", bucket_start=NOW.replace(second=0), posts=5, reposts=2)], [], NOW)
    fig = hour_figure(series)
    assert [len(t.y) for t in fig.data] == [60, 60, 60]
    assert list(fig.data[0].y)[-1] == 3 and list(fig.data[1].y)[-1] == 2
    assert not fig.layout.xaxis.visible  # no pixel-sized text on a wall chart
    ops = hour_patch(series).to_plotly_json()["operations"]
    assert {tuple(op["location"]) for op in ops} >= {("data", 0, "y"), ("data", 1, "y"), ("data", 2, "y")}
    assert all(len(op["params"]["value"]) == 60 for op in ops if op["location"][-1] == "y")


def test_the_day_figure_has_48_bars():
    series = day_series({}, NOW)
    assert [len(t.y) for t in day_figure(series).data] == [48, 48]
    assert len(day_patch(series).to_plotly_json()["operations"]) == 6  # x and y of two traces, the two ranges


def patched(patch, *location):
    (op,) = [op for op in patch.to_plotly_json()["operations"] if tuple(op["location"]) == location]
    return op["params"]["value"]


def test_every_update_sets_the_height_from_its_own_bars():
    # a chart first drawn with a few posts a minute must grow when a surge comes: Plotly keeps the first
    # autoscaled range unless the update says otherwise
    quiet = hour_series([BucketMetrics(brand="b", bucket_start=NOW.replace(second=0), posts=4, reposts=1)], [], NOW)
    surge = hour_series(
        [BucketMetrics(brand="b", bucket_start=NOW.replace(second=0), posts=90, reposts=10, negative=95)], [], NOW
    )
    assert list(hour_figure(quiet).layout.yaxis.range) == [0, 4 * 1.05]
    assert patched(hour_patch(surge), "layout", "yaxis", "range") == [0, 95 * 1.05]
    assert patched(hour_patch(hour_series([], [], NOW)), "layout", "yaxis", "range") == [0, 1.05]
    day = day_series({}, NOW)
    assert list(day_figure(day).layout.yaxis.range) == [0, 1.05]
    assert patched(day_patch(day), "layout", "yaxis", "range") == [0, 1.05]
