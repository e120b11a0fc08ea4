from datetime import UTC, datetime, timedelta

from dashboards.wall_model import (
    BrandData,
    day_series,
    density,
    grid_shape,
    groups,
    hour_series,
    negative_level,
    safe_url,
    tile,
    tiles,
)
from schemas.alerts import Action, Alert, AlertEvidence, AlertStatus, Incident, Severity, fingerprint
from schemas.records import BucketMetrics, TopPost

NOW = datetime(2026, 12, 7, 12, 0, 30, tzinfo=UTC)
MINUTE = NOW.replace(second=0)


def bucket(minutes_ago: int, posts: int, negative: int = 0, positive: int = 0, reposts: int = 0, **kw) -> BucketMetrics:
    return BucketMetrics(
        brand="nordair",
        bucket_start=MINUTE - timedelta(minutes=minutes_ago),
        posts=posts,
        negative=negative,
        positive=positive,
        neutral=posts - negative - positive,
        reposts=reposts,
        originals=posts - reposts,
        **kw,
    )


def alert(rule: str, status: AlertStatus, started_min_ago: int, ended_min_ago: int | None = None) -> Alert:
    labels = {"alertname": rule, "brand": "nordair", "severity": Severity.CRITICAL.value}
    start = NOW - timedelta(minutes=started_min_ago)
    return Alert(
        fingerprint=fingerprint(labels),
        status=status,
        labels=labels,
        annotations={"summary": f"nordair: {rule}"},
        starts_at=start,
        ends_at=None if ended_min_ago is None else NOW - timedelta(minutes=ended_min_ago),
        event_time=NOW,
        evidence=AlertEvidence(window_start=start, window_end=start, value=1, baseline=1, score=1, threshold=1),
    )


def brand(buckets=(), firing=(), history=(), incident=None, acks=None, latest=(), role="brand", id_="nordair"):
    return BrandData(
        id=id_,
        name=id_.title(),
        role=role,
        buckets=list(buckets),
        day={},
        latest=list(latest),
        firing=list(firing),
        history=list(history),
        incident=incident,
        acks=acks or {},
    )


def test_a_firing_alert_with_its_incident_and_ack_makes_the_tile_firing():
    surge = alert("negative_surge", AlertStatus.FIRING, 12)
    incident = Incident(
        id="nordair:1",
        brand="nordair",
        status="opened",
        opened_at=NOW - timedelta(minutes=12),
        updated_at=NOW,
        severity=Severity.CRITICAL,
        alerts=(surge.fingerprint,),
        firing=(surge.fingerprint,),
    )
    ack = Action(id="a1", kind="ack", at=NOW, by="ana", fingerprint=surge.fingerprint)
    before = [bucket(m, 20, negative=2) for m in range(15, 100)]
    recent = [bucket(m, 4, negative=2, reposts=1) for m in range(0, 15)]
    t = tile(brand([*before, *recent], firing=[surge], incident=incident, acks={surge.fingerprint: ack}), [], NOW)
    assert (t.state, t.severity) == ("firing", "critical")
    assert t.alerts[0].rule == "negative surge" and t.alerts[0].acked_by == "ana"
    assert t.incident == "INCIDENT open 12 min · 1 firing"
    assert t.negative_share == 0.5 and t.negative_baseline == 0.1 and t.negative_level == "bad"
    assert t.posts_hour == 45 * 20 + 15 * 4 and t.hour.alert_marks == (surge.starts_at,)


def test_a_surge_that_ended_is_resolved_not_red_and_later_calm():
    ended = alert("volume_spike", AlertStatus.RESOLVED, 40, ended_min_ago=10)
    t = tile(brand([bucket(1, 5)], history=[ended]), [], NOW)
    assert (t.state, t.severity, t.alerts) == ("resolved", None, ())
    assert t.resolved_note == "volume spike resolved 10 min ago"
    long_ago = alert("volume_spike", AlertStatus.RESOLVED, 90, ended_min_ago=45)
    assert tile(brand([bucket(1, 5)], history=[long_ago]), [], NOW).state == "calm"


def test_no_mentions_is_quiet_not_calm():
    t = tile(brand([bucket(90, 10)]), [], NOW)
    assert (t.state, t.posts_hour, t.net_sentiment) == ("quiet", 0, None)


def test_negative_level_against_the_brands_own_baseline():
    assert negative_level(0.35, 0.12, 40) == "bad"
    assert negative_level(0.22, 0.12, 40) == "warn"
    assert negative_level(0.14, 0.12, 40) == "ok"
    assert negative_level(0.9, 0.12, 6) == "none"
    assert negative_level(0.5, None, 40) == "bad" and negative_level(0.3, None, 40) == "warn"


def test_links_only_for_http_and_https():
    assert safe_url("https://x.example/p") == "https://x.example/p"
    assert safe_url("http://x.example") == "http://x.example"
    for bad in ("javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,<b>", "vbscript:x", "", None):
        assert safe_url(bad) is None


def test_top_posts_terms_and_key_people_of_the_window():
    top = TopPost(post_id="p1", author_handle="ingrid_news", reach=250_000, compound=-0.6, text="x", url="javascript:x")
    b = bucket(2, 10, top_posts=(top,))
    latest = [{"created_at": (NOW - timedelta(minutes=3)).isoformat(), "key_people": ["ingrid_news"]}]
    t = tile(brand([b], latest=latest), [], NOW)
    assert t.top_posts[0].author == "ingrid_news" and t.top_posts[0].label == "negative"
    assert t.top_posts[0].url is None
    assert t.key_people == ("@ingrid_news 3 min ago",)


def test_share_of_voice_against_the_rivals():
    ours = brand([bucket(1, 30)])
    rival = brand([bucket(1, 10)], role="competitor", id_="skyline")
    by_id = {t.id: t for t in tiles([ours, rival], NOW)}
    assert by_id["nordair"].share_of_voice == 0.75 and by_id["skyline"].share_of_voice == 0.25


def test_the_hour_has_sixty_minutes_and_the_day_48_half_hours():
    h = hour_series([bucket(0, 3, reposts=1), bucket(59, 2), bucket(60, 9)], [], NOW)
    assert len(h.minutes) == 60 and h.minutes[-1] == MINUTE
    assert (h.written[-1], h.reposts[-1], h.written[0]) == (2, 1, 2)
    d = day_series({int(MINUTE.timestamp()) // 60: (5, 1), int(MINUTE.timestamp()) // 60 - 48 * 30: (9, 9)}, NOW)
    assert len(d.slots) == 48 and d.posts[-1] == 5 and sum(d.posts) == 5


def test_the_digest_changes_only_with_what_the_tile_shows():
    a = tile(brand([bucket(1, 5)]), [], NOW)
    assert a.digest() == tile(brand([bucket(1, 5)]), [], NOW).digest()
    assert a.digest() != tile(brand([bucket(1, 6)]), [], NOW).digest()


def test_grid_and_density_fill_a_landscape_screen():
    assert [grid_shape(n) for n in (1, 2, 3, 4, 6, 8, 9, 12, 13)] == [
        (1, 1),
        (2, 1),
        (3, 1),
        (2, 2),
        (3, 2),
        (4, 2),
        (3, 3),
        (4, 3),
        (4, 4),
    ]
    assert [density(n) for n in (1, 2, 3, 6, 7, 12)] == ["roomy", "roomy", "normal", "normal", "dense", "dense"]
    assert groups(["a", "b", "c"], 2) == [["a", "b"], ["c"]] and groups(["a"], None) == [["a"]]


def test_the_language_mix_of_the_window():
    from dashboards.wall_model import language_mix
    from schemas.records import TermCount

    buckets = [
        bucket(1, 9, languages=(TermCount("en", 8), TermCount("da", 1))),
        bucket(2, 3, languages=(TermCount("en", 2), TermCount("de", 1)), unscored=1),
    ]
    assert language_mix(buckets) == (("en", 0.833), ("da", 0.083), ("de", 0.083))
    assert language_mix([]) == ()
    t = tile(brand(buckets), [], NOW)
    assert t.languages[0] == ("en", 0.833) and t.unscored_share == 1 / 12
