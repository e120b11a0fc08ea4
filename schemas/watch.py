"""The watch configuration: which brands, competitors and key people lytte listens for.

It is a YAML file (see `config/watch.yaml`). `load_watch_config` fails with one line naming the file, the
line, the field and the problem, so that a typo stops the start-up instead of silently watching nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.alert_config import RULE_TYPES, AlertsConfig

_SLUG = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_RULE_CLASSES = {kind.__name__ for kind in RULE_TYPES.values()}


class WatchConfigError(ValueError):
    """Raised with a one-line, human-readable message: `file:line: field: problem`."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _strip_prefix(values: list[str], prefix: str) -> list[str]:
    return [v[1:] if v.startswith(prefix) else v for v in values]


class Watched(_Model):
    """A brand or a competitor: something whose mentions are counted."""

    id: str = Field(pattern=_SLUG, description="stable key: used in topics, Redis keys and URLs")
    name: str = Field(min_length=1)
    aliases: list[str] = []
    handles: list[str] = []
    hashtags: list[str] = []
    keywords: list[str] = Field(default=[], description="terms recorded when they appear in a matched post")
    exclude: list[str] = Field(default=[], description="phrases that are not this brand, e.g. 'United States'")

    @field_validator("handles")
    @classmethod
    def _handles(cls, v: list[str]) -> list[str]:
        return _strip_prefix(v, "@")

    @field_validator("hashtags")
    @classmethod
    def _hashtags(cls, v: list[str]) -> list[str]:
        return _strip_prefix(v, "#")

    @field_validator("aliases", "handles", "hashtags", "keywords", "exclude")
    @classmethod
    def _no_blanks(cls, v: list[str]) -> list[str]:
        if any(not s.strip() for s in v):
            raise ValueError("blank entry")
        return v


class KeyPerson(_Model):
    handle: str = Field(min_length=1)
    label: str = Field(min_length=1, description="journalist, influencer, executive, ...")
    name: str = ""

    @field_validator("handle")
    @classmethod
    def _handle(cls, v: str) -> str:
        return v.removeprefix("@")


class WatchConfig(_Model):
    brands: list[Watched] = Field(min_length=1)
    competitors: list[Watched] = []
    key_people: list[KeyPerson] = []
    alerts: AlertsConfig = AlertsConfig()

    @model_validator(mode="after")
    def _unique_ids(self) -> WatchConfig:
        seen: set[str] = set()
        for w in [*self.brands, *self.competitors]:
            if w.id in seen:
                raise ValueError(f"id {w.id!r} is used twice")
            seen.add(w.id)
        unknown = sorted(set(self.alerts.rules.brands) - seen)
        if unknown:
            raise ValueError(f"alerts.rules.brands: {unknown[0]!r} is not a brand or competitor id")
        return self

    def watched(self) -> list[tuple[Watched, Literal["brand", "competitor"]]]:
        return [(b, "brand") for b in self.brands] + [(c, "competitor") for c in self.competitors]


class _LineLoader(yaml.SafeLoader):
    """A YAML loader that remembers the line of every mapping key and sequence item."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = loader.construct_mapping(node, deep=True)
    lines = {}
    for key_node, value_node in node.value:
        lines[loader.construct_object(key_node)] = (key_node.start_mark.line + 1, value_node)
    loader.lines[id(mapping)] = (node.start_mark.line + 1, lines)
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_of(loc: tuple, data: object, lines: dict[int, tuple]) -> int | None:
    line = None
    node = data
    for part in loc:
        entry = lines.get(id(node))
        if isinstance(node, dict) and entry is not None:
            line = entry[0]
            if part in entry[1]:
                line = entry[1][part][0]
                node = node[part]
                continue
            return line
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            if id(node) in lines:
                line = lines[id(node)][0]
            continue
        break
    return line


def _union_tag(part: object) -> bool:
    """pydantic names the member of a union in an error's path ("VolumeSpike", "literal[False]",
    "function-after[_hysteresis(), VolumeSpike]"); the file has no such key."""
    return isinstance(part, str) and ("[" in part or part in _RULE_CLASSES)


def parse_watch_config(text: str, source: str = "<string>") -> WatchConfig:
    loader = _LineLoader(text)
    loader.lines = {}
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise WatchConfigError(f"{where}: invalid YAML: {problem}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise WatchConfigError(f"{source}:1: the file must be a mapping with a 'brands' list")
    seen: set[object] = set()
    for section in ("brands", "competitors"):
        items = data.get(section)
        for i, item in enumerate(items if isinstance(items, list) else []):
            ident = item.get("id") if isinstance(item, dict) else None
            if ident is not None and ident in seen:
                line = _line_of((section, i, "id"), data, loader.lines)
                raise WatchConfigError(f"{source}:{line or 1}: {section}.{i}.id: id {ident!r} is used twice")
            seen.add(ident)
    alerts = data.get("alerts")
    rules = alerts.get("rules") if isinstance(alerts, dict) else None
    per_brand = rules.get("brands") if isinstance(rules, dict) else None
    for brand in per_brand if isinstance(per_brand, dict) else {}:
        if brand not in seen:
            line = _line_of(("alerts", "rules", "brands", brand), data, loader.lines)
            raise WatchConfigError(
                f"{source}:{line or 1}: alerts.rules.brands.{brand}: {brand!r} is not a brand or competitor id"
            )
    try:
        return WatchConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(part for part in err["loc"] if not _union_tag(part))
        line = _line_of(loc, data, loader.lines)
        field = ".".join(str(p) for p in loc) or "(top level)"
        msg = re.sub(r"^Value error, ", "", err["msg"])
        raise WatchConfigError(f"{source}:{line or 1}: {field}: {msg}") from None


def load_watch_config(path: str | Path) -> WatchConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WatchConfigError(f"{path}: cannot read the watch configuration: {exc.strerror}") from None
    return parse_watch_config(text, str(path))
