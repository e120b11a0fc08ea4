"""The JSON Schema files beside the records, generated from the models so that they cannot drift."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.alerts import Action, Alert, Delivery, Incident
from schemas.records import RECORD_TYPES, Record
from schemas.signals import Signal

#: every record that travels on a topic
TOPIC_RECORDS: dict[str, type[Record]] = {
    **RECORD_TYPES,
    "signal": Signal,
    "alert": Alert,
    "incident": Incident,
    "action": Action,
    "delivery": Delivery,
}

SCHEMA_DIR = Path(__file__).parent / "json"


def rendered() -> dict[str, str]:
    return {
        f"{name}.v{model.model_fields['schema_version'].default}.schema.json": json.dumps(
            model.model_json_schema(), indent=2, sort_keys=True
        )
        + "\n"
        for name, model in TOPIC_RECORDS.items()
    }


def write_files() -> list[Path]:
    SCHEMA_DIR.mkdir(exist_ok=True)
    paths = []
    for name, text in rendered().items():
        path = SCHEMA_DIR / name
        path.write_text(text)
        paths.append(path)
    return paths


def check_files() -> list[str]:
    """Names of schema files that are missing or differ from the models."""
    return [
        name
        for name, text in rendered().items()
        if not (SCHEMA_DIR / name).exists() or (SCHEMA_DIR / name).read_text() != text
    ]
