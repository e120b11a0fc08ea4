"""The wall's reading of a source's report: live, no mentions, no data, and a report nobody rewrites."""

from schemas.source_health import SourceReport, screen_state

NOW = 1_000_000_000
S = 1000


def report(state="connected", *, post_ago=None, alive_ago=None, reported_ago=1) -> SourceReport:
    return SourceReport(
        source="x",
        state=state,
        reported_ms=NOW - reported_ago * S,
        heartbeat_ms=0 if alive_ago is None else NOW - alive_ago * S,
        last_event_ms=0 if post_ago is None else NOW - post_ago * S,
    )


def test_a_recent_post_is_live():
    assert screen_state(report(post_ago=5), NOW).state == "live"
    assert screen_state(report(post_ago=60), NOW).state == "live"


def test_keep_alives_without_posts_are_no_mentions():
    status = screen_state(report(post_ago=600, alive_ago=3), NOW)
    assert (status.state, status.text) == ("no_mentions", "no mentions")
    assert screen_state(report(alive_ago=44), NOW).state == "no_mentions"  # never a post yet, still talking


def test_silence_from_the_provider_is_no_data_for_that_long():
    status = screen_state(report(post_ago=600, alive_ago=90), NOW)
    assert (status.state, status.text) == ("no_data", "no data for 90 s")
    assert screen_state(report(post_ago=7200, alive_ago=7200), NOW).text == "no data for 2 h"
    assert screen_state(report(alive_ago=None, reported_ago=1), NOW).state == "no_data"  # connected, nothing ever


def test_a_source_not_connected_is_no_data_whatever_it_last_got():
    status = screen_state(report("backoff", post_ago=30, alive_ago=30), NOW)
    assert (status.state, status.text) == ("no_data", "no data for 30 s (backoff)")


def test_a_report_nobody_rewrites_means_the_source_is_gone():
    status = screen_state(report(post_ago=61, alive_ago=61, reported_ago=60), NOW)
    assert (status.state, status.text) == ("no_data", "no data for 61 s (source not reporting)")


def test_reports_from_newer_writers_still_read():
    raw = report(post_ago=1).model_dump() | {"something_new": 1}
    assert SourceReport.model_validate(raw).source == "x"


def test_a_webhook_source_listening_is_no_mentions_however_long_nobody_writes():
    quiet = report(post_ago=3600).model_copy(update={"push": True})
    assert screen_state(quiet, NOW).state == "no_mentions"
    gone = report(post_ago=3600, reported_ago=60).model_copy(update={"push": True})
    assert screen_state(gone, NOW).state == "no_data"  # the process stopped reporting: down, push or not
