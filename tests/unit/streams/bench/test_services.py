"""The process facts the bench reads from /proc."""

from __future__ import annotations

import doctest
import os

from schemas.settings import Settings
from streams.bench import services
from streams.bench.services import Workers, cpu_seconds, peak_rss_mb


def test_examples():
    assert doctest.testmod(services).failed == 0


def test_cpu_seconds_of_a_stat_line_whose_command_has_spaces_and_parentheses():
    ticks = os.sysconf("SC_CLK_TCK")
    stat = f"7 (a (b) c) R 1 7 7 0 -1 4194560 100 0 0 0 {3 * ticks} {ticks} 0 0 20 0 5 0 123 456"
    assert cpu_seconds(stat) == 4.0


def test_peak_rss_of_this_process_and_of_none():
    assert peak_rss_mb(os.getpid()) > 1
    assert peak_rss_mb(2**22 + 7) == 0.0  # no such process


def test_workers_not_started_have_used_nothing(tmp_path):
    workers = Workers(Settings(), 2, tmp_path, "mixed")
    assert workers.pids == [] and workers.cpu_seconds() == 0.0 and workers.peak_rss_mb() == 0.0
    assert workers.log(0) == tmp_path / "mixed-worker-1.log"
