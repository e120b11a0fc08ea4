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
    assert len(day_patch(series).to_plotly_json()["operations"]) == 5  # x and y of two traces, the range
