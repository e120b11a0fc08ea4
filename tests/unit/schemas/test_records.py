"""The JSON Schema files and the models agree, and real records validate against the files."""

import json
from datetime import UTC, datetime

import jsonschema
import pytest
from pydantic import ValidationError

from schemas.json_schema import SCHEMA_DIR, check_files
from schemas.records import (
    HASHTAGS_KEPT,
    TERMS_KEPT,
    BucketMetrics,
    TermCount,
    TopPost,
    merge_partials,
    rank_terms,
    top_terms,
)


def test_schema_files_are_generated_from_the_models():
    assert check_files() == [], "run `lytte schemas write`"


def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads((SCHEMA_DIR / name).read_text()))


def test_records_validate_against_their_files(scored_factory):
    scored = scored_factory(compound=-0.4)
    _validator("post.v1.schema.json").validate(json.loads(scored.post.model_dump_json()))
    _validator("scored_post.v1.schema.json").validate(json.loads(scored.model_dump_json()))
    metrics = BucketMetrics(brand="x", bucket_start=scored.post.created_at, posts=1)
    _validator("bucket_metrics.v2.schema.json").validate(json.loads(metrics.model_dump_json()))


def test_the_files_reject_what_the_models_reject():
    errors = list(_validator("post.v1.schema.json").iter_errors({"source": "myspace", "text": "x"}))
    assert errors


def _partial(partition: int | None, posts: int, authors: int, top: list[tuple[str, int]], minute: int = 42):
    return BucketMetrics(
        brand="nordair",
        bucket_start=datetime(2026, 11, 24, 10, minute, tzinfo=UTC),
        raw_partition=partition,
        posts=posts,
        negative=posts,
        compound_sum=-0.5 * posts,
        reach=100 * posts,
        unique_authors=authors,
        top_posts=tuple(TopPost(post_id=i, author_handle="a", reach=r, compound=0.0, text="") for i, r in top),
    )


def test_partials_merge_into_one_bucket_with_the_widest_posts_first():
    merged = merge_partials(
        [_partial(0, 3, 2, [("x:1", 900), ("x:2", 10)]), _partial(3, 1, 1, [("x:9", 5000)]), _partial(1, 2, 2, [], 43)]
    )
    assert [(m.bucket_start.minute, m.posts, m.unique_authors, m.raw_partition) for m in merged] == [
        (42, 4, 3, None),
        (43, 2, 2, None),
    ]
    assert [t.post_id for t in merged[0].top_posts] == ["x:9", "x:1"]
    assert merged[0].reach == 400 and merged[0].compound_sum == -2.0
    assert merge_partials(merged) == merged


def _terms(partition: int | None, terms: list[tuple[str, int]], hashtags=(), minute: int = 42) -> BucketMetrics:
    return BucketMetrics(
        brand="nordair",
        bucket_start=datetime(2026, 11, 24, 10, minute, tzinfo=UTC),
        raw_partition=partition,
        posts=1,
        terms=tuple(TermCount(t, c) for t, c in terms),
        hashtags=tuple(TermCount(t, c) for t, c in hashtags),
    )


def test_terms_travel_as_pairs_and_a_record_without_them_still_reads():
    metrics = _terms(0, [("delay", 5), ("crew", 2)], [("#fail", 3)])
    data = json.loads(metrics.model_dump_json())
    assert data["terms"] == [["delay", 5], ["crew", 2]] and data["hashtags"] == [["#fail", 3]]
    _validator("bucket_metrics.v2.schema.json").validate(data)
    assert BucketMetrics.model_validate_json(metrics.model_dump_json()) == metrics
    assert BucketMetrics.model_validate_json(metrics.model_dump_json()).terms[0].term == "delay"
    del data["terms"], data["hashtags"]  # as written before terms were counted
    old = BucketMetrics.model_validate(data)
    assert old.terms == () and old.hashtags == ()


def test_the_files_reject_a_bad_term_count():
    bad = {"brand": "x", "bucket_start": "2026-11-24T10:42:00Z", "terms": [["delay", -1]]}
    assert list(_validator("bucket_metrics.v2.schema.json").iter_errors(bad))
    with pytest.raises(ValidationError):
        BucketMetrics.model_validate(bad)


def test_merge_sums_each_terms_counts_and_keeps_the_top():
    merged = merge_partials(
        [
            _terms(0, [("delay", 5), ("refund", 4)], [("#fail", 2)]),
            _terms(3, [("crew", 4), ("delay", 1), ("gate", 4)], [("#fail", 1), ("#oslo", 1)]),
        ]
    )
    assert merged[0].terms == (("delay", 6), ("crew", 4), ("gate", 4), ("refund", 4))
    assert merged[0].hashtags == (("#fail", 3), ("#oslo", 1))
    assert merge_partials(merged) == merged


def test_merge_keeps_at_most_the_bound():
    partials = [_terms(p, [(f"p{p}w{i:02d}", 1) for i in range(TERMS_KEPT)]) for p in range(3)]
    merged = merge_partials(partials)[0]
    assert len(merged.terms) == TERMS_KEPT
    assert merged.terms == rank_terms(((t.term, t.count) for m in partials for t in m.terms), TERMS_KEPT)
    assert HASHTAGS_KEPT < TERMS_KEPT


def test_top_terms_is_approximate_when_partials_were_cut():
    # the docstring's scenario: partition 0 cut crew (3), so crew shows 4 of its 7
    cut = top_terms([(TermCount("delay", 5), TermCount("refund", 4)), (TermCount("crew", 4), TermCount("gate", 4))], 2)
    assert cut == (("delay", 5), ("crew", 4))
    minutes = [_terms(None, [("delay", 2)], minute=m).terms for m in range(40, 45)]
    assert top_terms(minutes, 10) == (("delay", 10),), "a window's minutes sum the same way"


def test_rank_terms():
    assert rank_terms([("gate", 2), ("delay", 5), ("crew", 2)], 2) == (("delay", 5), ("crew", 2))
    assert rank_terms([("gate", 2)], 0) == ()


def test_merge_sums_languages_and_unscored_and_old_records_read_without_them():
    start = datetime(2026, 12, 7, 10, 42, tzinfo=UTC)
    a = BucketMetrics(
        brand="b",
        bucket_start=start,
        raw_partition=0,
        posts=3,
        unscored=1,
        languages=(TermCount("en", 2), TermCount("de", 1)),
    )
    b = BucketMetrics(
        brand="b", bucket_start=start, raw_partition=1, posts=2, languages=(TermCount("da", 1), TermCount("en", 1))
    )
    (merged,) = merge_partials([a, b])
    assert merged.languages == (("en", 3), ("da", 1), ("de", 1)) and merged.unscored == 1
    old = a.model_dump(mode="json")
    del old["languages"], old["unscored"]
    assert BucketMetrics.model_validate(old).languages == ()
