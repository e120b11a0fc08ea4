from streams.sources.bluesky_state import BoundedMap, Progress, RecentIds, ResumePoint


def test_bounded_map_forgets_the_least_recently_set():
    m: BoundedMap[str, int] = BoundedMap(2)
    m.set("a", 1)
    m.set("b", 2)
    m.set("a", 3)  # a is now the most recent
    m.set("c", 4)
    assert "b" not in m and m.get("a") == 3 and m.get("c") == 4 and len(m) == 2


def test_recent_ids_are_bounded():
    ids = RecentIds(2)
    assert ids.add("x") and not ids.add("x")
    ids.add("y")
    ids.add("z")
    assert ids.add("x")  # forgotten after two newer ones


def test_resume_point_round_trip_and_hand_set_cursors():
    point = ResumePoint(1725911162329308, ("at://a/app.bsky.feed.post/1",))
    assert ResumePoint.decode(point.encode()) == point
    assert ResumePoint.decode("1725911162329308") == ResumePoint(1725911162329308)
    for junk in (None, "", "junk", "-5", "true", '{"time_us": "1"}', '{"recent": []}', "[1]"):
        assert ResumePoint.decode(junk) is None


def test_progress_keeps_only_the_posts_of_the_rewind_window():
    progress = Progress(rewind_us=5_000_000)
    assert progress.point() is None and progress.cursor() is None
    progress.handled(1_000_000)
    progress.sent(1_000_000, "p1")
    progress.handled(4_000_000)
    progress.handled(8_000_000)
    progress.sent(8_000_000, "p2")
    progress.handled(7_000_000)  # an older event does not move the mark back
    assert progress.point() == ResumePoint(8_000_000, ("p2",))
    assert progress.cursor() == 3_000_000


def test_progress_bounds_the_ids_it_keeps():
    progress = Progress(rewind_us=5_000_000, keep=3)
    for i in range(10):
        progress.handled(10_000_000 + i)
        progress.sent(10_000_000 + i, f"p{i}")
    assert progress.point().recent == ("p7", "p8", "p9")
