"""The last line of `lytte bench`, which tools read, and the choice of modes."""

from __future__ import annotations

import doctest
import re

import pytest

from streams.bench import run
from streams.bench.run import Figures, final_line, parse_modes

LINE = re.compile(
    r"bench: e2e_posts_per_s=\S+ vader_posts_per_s=\S+ ratio=\S+ p50_ms=\S+ p99_ms=\S+ rss_mb=\S+ "
    r"steady_rate=\S+ steady_p50_ms=\S+ steady_p99_ms=\S+ hot_brand_posts_per_s=\S+ hot_brand_partition_skew=\S+ "
    r"alert_p50_ms=\S+ alert_p99_ms=\S+ alerts=\S+/\S+$"
)


def test_examples():
    assert doctest.testmod(run).failed == 0


def test_final_line_keeps_its_fields_in_order():
    figures = Figures(1132.4, 35735.2, 46663.0, 75338.0, 236.2, 998.7, 120.0, 480.4, 900.0, 1.034)
    line = final_line(figures)
    assert LINE.match(line)
    assert line == (
        "bench: e2e_posts_per_s=1132 vader_posts_per_s=35735 ratio=0.032 p50_ms=46663 p99_ms=75338 rss_mb=236 "
        "steady_rate=999 steady_p50_ms=120 steady_p99_ms=480 hot_brand_posts_per_s=900 hot_brand_partition_skew=1.03 "
        "alert_p50_ms=nan alert_p99_ms=nan alerts=nan/nan"
    )


def test_figures_of_modes_not_run_are_nan():
    line = final_line(Figures(rss_mb=200, steady_rate=1000, steady_p50_ms=50, steady_p99_ms=90))
    assert LINE.match(line)
    assert "e2e_posts_per_s=nan" in line and "ratio=nan" in line and "hot_brand_posts_per_s=nan" in line
    assert "steady_p99_ms=90" in line


def test_final_line_ends_with_the_alert_figures():
    line = final_line(Figures(alert_p50_ms=412.6, alert_p99_ms=1530.2, alerts_received=99, alerts_expected=100))
    assert LINE.match(line)
    assert line.endswith(" alert_p50_ms=413 alert_p99_ms=1530 alerts=99/100")
    assert "e2e_posts_per_s=nan" in line and "steady_rate=nan" in line


def test_modes():
    assert parse_modes("mixed,hot,steady") == ["mixed", "hot", "steady"]
    assert parse_modes("steady, hot-brand") == ["hot", "steady"]
    assert parse_modes("alerts,mixed") == ["mixed", "alerts"]
    with pytest.raises(ValueError, match="fast"):
        parse_modes("mixed,fast")
    with pytest.raises(ValueError):
        parse_modes("")
