"""The JSON Schema files and the models agree, and real records validate against the files."""

import json
from datetime import UTC, datetime

import jsonschema

from schemas.json_schema import SCHEMA_DIR, check_files
from schemas.records import BucketMetrics, TopPost, merge_partials


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
