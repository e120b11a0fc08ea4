"""The JSON Schema files and the models agree, and real records validate against the files."""

import json

import jsonschema

from schemas.json_schema import SCHEMA_DIR, check_files
from schemas.records import BucketMetrics


def test_schema_files_are_generated_from_the_models():
    assert check_files() == [], "run `lytte schemas write`"


def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads((SCHEMA_DIR / name).read_text()))


def test_records_validate_against_their_files(scored_factory):
    scored = scored_factory(compound=-0.4)
    _validator("post.v1.schema.json").validate(json.loads(scored.post.model_dump_json()))
    _validator("scored_post.v1.schema.json").validate(json.loads(scored.model_dump_json()))
    metrics = BucketMetrics(brand="x", bucket_start=scored.post.created_at, posts=1)
    _validator("bucket_metrics.v1.schema.json").validate(json.loads(metrics.model_dump_json()))


def test_the_files_reject_what_the_models_reject():
    errors = list(_validator("post.v1.schema.json").iter_errors({"source": "myspace", "text": "x"}))
    assert errors
