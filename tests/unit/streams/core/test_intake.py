from datetime import UTC, datetime, timedelta

import orjson

from schemas.records import Post
from streams.core.intake import Limits, Rejected, parse_post

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def raw(**overrides) -> bytes:
    data = {
        "source": "mastodon",
        "source_id": "1",
        "created_at": "2026-11-24T11:59:00Z",
        "text": "hi @nordair",
        "author": {"id": "1", "handle": "a"},
    }
    data.update(overrides)
    return orjson.dumps(data)


def test_a_good_post_parses_with_utc_time():
    post = parse_post(raw(created_at="2026-11-24T12:59:00+01:00"), NOW)
    assert isinstance(post, Post)
    assert post.created_at == datetime(2026, 11, 24, 11, 59, tzinfo=UTC)
    assert post.id == "mastodon:1"


def test_each_bad_input_has_a_reason():
    cases = {
        b"\xff\xfe": "invalid UTF-8 at byte 0",
        b"{nope": "invalid JSON",
        b'"text"': "expected a JSON object, got str",
        raw(source="myspace"): "unknown source 'myspace'",
        raw(author={"id": "1"}): "missing field author.handle",
        raw(created_at="2026-11-25T12:00:00Z"): "in the future",
        raw(created_at="2026-10-01T12:00:00Z"): "older than",
        raw(created_at="2026-11-24T11:59:00"): "created_at",
        raw(url="javascript:alert(1)"): "invalid field url",
        raw(text="x" * 30): "over the 20-character limit",
    }
    limits = Limits(max_text_chars=20)
    for data, fragment in cases.items():
        result = parse_post(data, NOW, limits)
        assert isinstance(result, Rejected), data
        assert fragment in result.reason, (data, result.reason)


def test_oversized_record_is_rejected_before_parsing():
    result = parse_post(b"{" + b" " * 2000 + b"}", NOW, Limits(max_record_bytes=1024))
    assert isinstance(result, Rejected) and "over the 1024-byte limit" in result.reason


def test_clock_skew_within_the_allowance_is_accepted():
    assert isinstance(parse_post(raw(created_at=(NOW + timedelta(minutes=4)).isoformat()), NOW), Post)


def test_the_quick_reading_decides_as_the_step_by_step_one_on_hostile_records():
    """`parse_post` reads a record with pydantic's JSON parser first; on the fuzz corpus (repeated keys,
    surrogates, huge numbers, odd dates, ...) it must accept and refuse exactly what `parse_slowly` does,
    with the same Post."""
    import random
    from datetime import UTC, datetime

    from streams.core.intake import parse_slowly
    from streams.faults.fuzz import bad_record, good_post

    now = datetime.now(UTC)
    rng = random.Random(7)
    raws = [bad_record(rng, now, n).raw for n in range(3000)]
    raws += [orjson.dumps(good_post(rng, now, n)) for n in range(300)]
    limits = Limits(max_record_bytes=10**9)  # parse_post's first check, on the bytes alone
    for raw in raws:
        quick, slow = parse_post(raw, now, limits), parse_slowly(raw, now, limits)
        assert isinstance(quick, Rejected) == isinstance(slow, Rejected), raw[:200]
        if isinstance(quick, Rejected):
            assert quick.reason == slow.reason or "limit" in quick.reason, raw[:200]
        else:
            assert quick == slow, raw[:200]


def test_age_is_judged_by_the_stream_and_the_future_by_the_wall_clock():
    history = raw(created_at="2015-02-24T10:00:00Z")
    stream_2015 = datetime(2015, 2, 24, 12, 0, tzinfo=UTC)
    assert isinstance(parse_post(history, NOW, Limits(), stream_time=stream_2015), Post)
    refused = parse_post(history, NOW, Limits(), stream_time=NOW)
    assert isinstance(refused, Rejected) and "before the stream's time" in refused.reason
    assert isinstance(parse_post(history, NOW), Rejected), "no stream: judged by the wall clock"
    future = raw(created_at="2026-11-24T13:00:00Z")
    assert isinstance(parse_post(future, NOW, Limits(), stream_time=stream_2015), Rejected)
