"""The fault generator: deterministic, covers every category, and classifies its records like intake does."""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from schemas.records import Evidence, Post
from schemas.watch import load_watch_config
from streams.core.intake import Rejected, parse_post
from streams.core.matching import Matcher
from streams.core.scoring import Scorer
from streams.faults.fuzz import BRAND_MENTIONS, CATEGORIES, Fuzzed, bad_record, good_post, mentions_for, mixed_stream

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
WATCH_YAML = Path(__file__).resolve().parents[4] / "config" / "watch.yaml"
DRAWS = 2_000


@pytest.fixture(scope="module")
def bad_records() -> list[Fuzzed]:
    rng = random.Random(20261124)
    return [bad_record(rng, NOW, n) for n in range(DRAWS)]


@pytest.fixture(scope="module")
def good_posts() -> list[dict]:
    rng = random.Random(20261124)
    return [good_post(rng, NOW, n) for n in range(DRAWS)]


def _summary(cases: dict[tuple[str, ...], int]) -> str:
    return "\n".join(f"  {count:4d} x {' | '.join(key)}" for key, count in sorted(cases.items()))


def test_the_same_seed_gives_the_same_bytes():
    first = mixed_stream(7, 300, 300, NOW)
    assert first == mixed_stream(7, 300, 300, NOW)
    assert [f.raw for f in first] != [f.raw for f in mixed_stream(8, 300, 300, NOW)]
    a, b = random.Random(3), random.Random(3)
    assert [bad_record(a, NOW, n) for n in range(500)] == [bad_record(b, NOW, n) for n in range(500)]
    a, b = random.Random(3), random.Random(3)
    assert [good_post(a, NOW, n) for n in range(500)] == [good_post(b, NOW, n) for n in range(500)]


def test_every_category_appears_in_2000_draws(bad_records):
    seen = Counter(f.category for f in bad_records)
    assert set(seen) == set(CATEGORIES), set(CATEGORIES) - set(seen)
    assert min(seen.values()) > DRAWS / len(CATEGORIES) / 2, seen  # drawn evenly


def test_should_reject_agrees_with_parse_post(bad_records):
    disagreements: dict[tuple[str, ...], int] = defaultdict(int)
    for f in bad_records:
        try:
            result = parse_post(f.raw, NOW)
        except Exception:
            continue  # reported by test_parse_post_never_raises
        if isinstance(result, Rejected) != f.should_reject:
            got = f"Rejected({result.reason})" if isinstance(result, Rejected) else "a Post"
            disagreements[(f.category, f.detail, f"should_reject={f.should_reject}", f"parse_post gave {got}")] += 1
    assert not disagreements, "fuzz classification disagrees with parse_post:\n" + _summary(disagreements)


def test_parse_post_never_raises(bad_records):
    raised: dict[tuple[str, ...], int] = defaultdict(int)
    for f in bad_records:
        try:
            parse_post(f.raw, NOW)
        except Exception as exc:
            raised[(f.category, f.detail, f"{type(exc).__name__}: {exc}")] += 1
    categories = sorted({key[0] for key in raised})
    assert not raised, f"parse_post raises instead of returning Rejected for categories {categories}:\n" + _summary(
        raised
    )


def test_every_good_post_parses(good_posts):
    ids = set()
    for data in good_posts:
        post = parse_post(orjson.dumps(data), NOW)
        assert isinstance(post, Post), (data, post)
        assert NOW - timedelta(minutes=5) <= post.created_at <= NOW
        ids.add(post.id)
    assert len(ids) == len(good_posts)


def test_every_good_post_mentions_a_watched_brand(good_posts):
    config = load_watch_config(WATCH_YAML)
    assert set(mentions_for(config)) == set(BRAND_MENTIONS)
    matcher = Matcher(config)
    unmatched = [data["text"] for data in good_posts if not matcher.brands(data["text"])]
    assert not unmatched, unmatched[:10]


def test_scorer_does_not_raise_on_good_posts(good_posts):
    scorer = Scorer(load_watch_config(WATCH_YAML))
    raised: dict[tuple[str, ...], int] = defaultdict(int)
    examples: dict[str, str] = {}
    for n, data in enumerate(good_posts):
        post = parse_post(orjson.dumps(data), NOW)
        assert isinstance(post, Post)
        evidence = Evidence(raw_partition=0, raw_offset=n, raw_timestamp_ms=int(NOW.timestamp() * 1000))
        try:
            scored = scorer.score(post, evidence)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc!r}"
            raised[(error,)] += 1
            examples.setdefault(error, f"author {post.author.handle!r}, text {post.text!r}")
            continue
        assert scored, post.text
    assert not raised, (
        "Scorer.score raises on valid posts:\n"
        + _summary(raised)
        + "\nexamples:\n"
        + "\n".join(f"  {error}: {example}" for error, example in examples.items())
    )


def test_the_mixed_stream_holds_duplicates_after_their_originals():
    stream = mixed_stream(42, 100, 50, NOW)
    kinds = Counter(f.category for f in stream)
    assert kinds["good"] == 100 and kinds["duplicate"] == 5 + 2
    assert sum(kinds.values()) == 157
    first_seen: dict[str, int] = {}
    for i, f in enumerate(stream):
        if f.category == "good":
            first_seen[f.detail] = i
    originals = {f.detail: f for f in stream if f.category == "good"}
    exact = redelivered = 0
    for i, f in enumerate(stream):
        if f.category != "duplicate":
            continue
        of = f.detail.split(" of ", 1)[1].split(" ")[0]
        assert first_seen[of] < i
        original = originals[of]
        post, first = parse_post(f.raw, NOW), parse_post(original.raw, NOW)
        assert isinstance(post, Post) and isinstance(first, Post)
        assert (post.id, post.created_at, post.author) == (first.id, first.created_at, first.author)
        if f.raw == original.raw:
            exact += 1
        else:
            redelivered += 1
            assert post.engagement != first.engagement
    assert (exact, redelivered) == (5, 2)
    valid_ids = {p.id for f in stream if isinstance(p := parse_post(f.raw, NOW), Post) and f.category != "good"}
    assert len({f.detail for f in stream if f.category == "good"} | valid_ids) >= 100


def test_ten_thousand_bad_records_take_well_under_two_seconds():
    # a guard against a generator gone quadratic, not a benchmark: CPU time, with room for a shared machine
    rng = random.Random(1)
    started = time.process_time()
    for n in range(10_000):
        bad_record(rng, NOW, n)
    assert time.process_time() - started < 5.0
