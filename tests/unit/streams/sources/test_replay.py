from datetime import UTC, datetime, timedelta

import pytest

from schemas.records import Source
from streams.sources.replay import CsvMapping, ReplayError, play, read_csv, read_jsonl, read_posts, timeline
from tests.fixtures.factories import AIRLINE_TWEETS

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.skipif(not AIRLINE_TWEETS.exists(), reason="../shared/data/airline/Tweets.csv is not present")
def test_the_airline_tweets_parse_with_their_offsets():
    posts = list(read_csv(AIRLINE_TWEETS))
    assert len(posts) == 14_640
    first = posts[0]
    assert first.source is Source.REPLAY
    assert first.created_at.tzinfo is not None
    # "2015-02-24 11:35:52 -0800" is 19:35:52 UTC
    assert first.created_at == datetime(2015, 2, 24, 19, 35, 52, tzinfo=UTC)
    assert first.text.startswith("@VirginAmerica")


def test_csv_with_a_column_mapping(tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text("id,body,when,who\n7,hello @nordair,2026-11-24T10:00:00+00:00,anna\n")
    mapping = CsvMapping.parse(
        "source_id=id,text=body,created_at=when,author_handle=who,created_at_format=%Y-%m-%dT%H:%M:%S%z"
    )
    mapping = CsvMapping(**{**mapping.__dict__, "reposts": None})
    (post,) = read_csv(path, mapping)
    assert (post.source_id, post.text, post.author.handle) == ("7", "hello @nordair", "anna")


def test_csv_errors_name_the_line(tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text("tweet_id,text,tweet_created,name,retweet_count\n1,hi,not a date,anna,0\n")
    with pytest.raises(ReplayError, match=r"posts.csv:2: time data 'not a date'"):
        list(read_csv(path))
    with pytest.raises(ReplayError, match=r"missing column"):
        list(read_csv(path, CsvMapping(text="body")))
    with pytest.raises(ReplayError, match="expected FIELD=COLUMN"):
        CsvMapping.parse("body")


def test_jsonl_round_trip_and_errors(tmp_path, post_factory):
    path = tmp_path / "posts.jsonl"
    posts = [post_factory("a @nordair"), post_factory("b @nordair")]
    path.write_text("".join(p.model_dump_json() + "\n" for p in reversed(posts)))
    assert read_posts(path) == posts  # sorted by created_at
    path.write_text(posts[0].model_dump_json() + '\n{"text": 1}\n')
    with pytest.raises(ReplayError, match=r"posts.jsonl:2: not a Post"):
        list(read_jsonl(path))


def test_timeline_sends_faster_but_keeps_the_recorded_minutes(post_factory):
    posts = [post_factory(created_at=datetime(2015, 2, 24, 10, m, s, tzinfo=UTC)) for m, s in ((0, 0), (1, 0), (5, 59))]
    start = START + timedelta(seconds=30)
    fast = list(timeline(posts, speed=60, keep_time=False, start=start))
    assert [d for d, _ in fast] == [0.0, 1.0, 5.0 + 59 / 60]
    # moved by whole minutes: each post keeps its second within the minute
    assert [p.created_at for _, p in fast] == [
        START + timedelta(minutes=m, seconds=s) for m, s in ((-6, 0), (-5, 0), (-1, 59))
    ]
    assert all(p.created_at <= start + timedelta(seconds=d) for d, p in fast), "never dated after it is sent"
    burst = list(timeline(posts, speed=0, keep_time=False, start=start))
    assert [d for d, _ in burst] == [0.0, 0.0, 0.0]
    assert burst[-1][1].created_at == START - timedelta(seconds=1), "the last post: the minute before it is sent"
    kept = list(timeline(posts, speed=0, keep_time=True, start=start))
    assert [p.created_at for _, p in kept] == [p.created_at for p in posts]


def test_play_sleeps_until_each_post_is_due(post_factory):
    now = [100.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    sent = []
    n = play([(0.0, post_factory()), (2.5, post_factory())], sent.append, clock=lambda: now[0], sleep=sleep)
    assert n == 2 and len(sent) == 2 and slept == [2.5]
