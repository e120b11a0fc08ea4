"""The X filtered stream's rules, derived from the watch configuration and kept in sync with X.

A target (brand, competitor, key person) becomes one or more rules, all tagged with the target
(`brand:nordair`, `competitor:skyline`, `key_person:ingrid_news`), so that `matching_rules` on a delivered
post names what it was sent for. A rule ORs the target's clauses: names and aliases as quoted phrases,
`@handles`, `#hashtags`, and `from:handle` for key people (a post *by* a key person matters as much as one
mentioning them). X caps a rule's length (512 characters on the lowest paid access level, 1,024 on Pro,
2,048 on Enterprise), so a target with many clauses is split over several rules with the same tag.

Syncing is pure planning (`plan_rules`) plus three calls: delete the rules whose value is about to be added
with another tag (X refuses a second rule with the same value), add what is missing, then delete what is
stale, so the stream never runs without the rules it needs in between.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI reads this module's defaults at start-up: keep it free of Kafka and Redis imports
    from streams.sources.runtime import Target

log = logging.getLogger(__name__)

#: X's rule length on the lowest access level that has the filtered stream; `--rule-max-chars` raises it.
DEFAULT_RULE_MAX_CHARS = 512
_OR = " OR "


@dataclass(frozen=True, order=True)
class Rule:
    """A rule as lytte wants it: the value X matches and the tag naming the target."""

    value: str
    tag: str


@dataclass(frozen=True)
class ActiveRule:
    """A rule as X has it, with the id X gave it."""

    id: str
    value: str
    tag: str | None = None


def rule_tag(target: Target) -> str:
    """The tag naming a target: Target("nordair", "brand", ...) -> "brand:nordair"."""
    return f"{target.role}:{target.id}"


def quote_phrase(phrase: str) -> str:
    """An exact-phrase clause, quotes inside escaped: 'Nord Air' -> '"Nord Air"'; 'say "hi"' -> '"say \\"hi\\""'."""
    return '"' + phrase.replace("\\", "\\\\").replace('"', '\\"') + '"'


def clauses(target: Target) -> list[str]:
    """The clauses of a target, in the order of the watch file, without repeats.

    Scenario: brand nordair (names "Nordair", "Nord Air"; handles "nordair"; hashtags "nordair") ->
    ['"Nordair"', '"Nord Air"', '@nordair', '#nordair']; key person ingrid_news -> ['@ingrid_news',
    'from:ingrid_news']."""
    out = [quote_phrase(p) for p in target.phrases if p.strip()]
    for handle in target.handles:
        out.append(f"@{handle}")
        if target.role == "key_person":
            out.append(f"from:{handle}")
    out.extend(f"#{tag}" for tag in target.hashtags)
    return list(dict.fromkeys(out))


def pack_clauses(parts: Sequence[str], max_chars: int) -> tuple[list[str], list[str]]:
    """OR the clauses together into as few values of at most `max_chars` as keeps their order; a clause longer
    than `max_chars` on its own cannot be sent and is returned apart.

    Scenario: ['"Nordair"', '"Nord Air"', '@nordair'] with max 25 -> (['"Nordair" OR "Nord Air"', '@nordair'], []);
    with max 8 -> (['@nordair'], ['"Nordair"', '"Nord Air"']) (a quoted "Nordair" is 9 characters)."""
    values: list[str] = []
    too_long: list[str] = []
    current = ""
    for part in parts:
        if len(part) > max_chars:
            too_long.append(part)
            continue
        candidate = f"{current}{_OR}{part}" if current else part
        if len(candidate) <= max_chars:
            current = candidate
        else:
            values.append(current)
            current = part
    if current:
        values.append(current)
    return values, too_long


def rules_for(targets: Iterable[Target], max_chars: int = DEFAULT_RULE_MAX_CHARS) -> list[Rule]:
    """The rules lytte wants for the watched targets, each within `max_chars`.

    Scenario: brand nordair ("Nordair", "Nord Air", @nordair, #nordair) and key person ingrid_news, 512 chars ->
    [Rule('"Nordair" OR "Nord Air" OR @nordair OR #nordair', "brand:nordair"),
     Rule("@ingrid_news OR from:ingrid_news", "key_person:ingrid_news")]; with max 30 the brand takes two rules
    ('"Nordair" OR "Nord Air"' and '@nordair OR #nordair'), both tagged "brand:nordair". A target with no
    clause gets no rule; a clause too long for any rule is logged and left out."""
    rules: list[Rule] = []
    for target in targets:
        tag = rule_tag(target)
        values, too_long = pack_clauses(clauses(target), max_chars)
        for part in too_long:
            log.warning(
                "x: %s: %r is longer than a rule may be (%d characters); not listened for", tag, part, max_chars
            )
        rules.extend(Rule(value, tag) for value in values)
    return list(dict.fromkeys(rules))


def plan_rules(existing: Sequence[ActiveRule], wanted: Sequence[Rule]) -> tuple[list[Rule], list[ActiveRule]]:
    """What to add and what to delete so that X has exactly the wanted rules: (to_add, to_delete).

    A rule is kept when X has one with the same value and tag; every other active rule is stale (the stream
    belongs to lytte: a rule nobody wants only spends the monthly post cap). Scenario: X has
    {1: "Nordair" brand:nordair, 2: "Skyline" competitor:skyline, 3: "Fjordbank" (no tag)}, wanted are
    "Nordair" brand:nordair and "Nord Air" brand:nordair -> to_add ["Nord Air" brand:nordair], to_delete [2, 3];
    the same value under another tag is deleted and added again with the new tag; a wanted rule that X has
    twice keeps one and deletes the other."""
    wanted_set = set(wanted)
    kept: set[Rule] = set()
    to_delete: list[ActiveRule] = []
    for rule in existing:
        as_wanted = Rule(rule.value, rule.tag or "")
        if as_wanted in wanted_set and as_wanted not in kept:
            kept.add(as_wanted)
        else:
            to_delete.append(rule)
    to_add = [rule for rule in dict.fromkeys(wanted) if rule not in kept]
    return to_add, to_delete


@dataclass
class SyncResult:
    added: list[Rule] = field(default_factory=list)
    deleted: list[ActiveRule] = field(default_factory=list)
    kept: int = 0
    #: X's words for rules it refused (invalid, too long, duplicate), e.g. 'brand:nordair: Rule too long'
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"rules: {len(self.added)} added, {len(self.deleted)} deleted, {self.kept} kept"
        return text + (f", {len(self.problems)} refused ({'; '.join(self.problems)})" if self.problems else "")


def active_rules(client) -> list[ActiveRule]:
    """The rules X has now (GET /2/tweets/search/stream/rules through tweepy)."""
    response = client.get_rules()
    return [ActiveRule(str(r.id), r.value, r.tag) for r in response.data or []]


def sync_rules(client, wanted: Sequence[Rule], *, dry_run: bool = False) -> SyncResult:
    """Make X's rules the wanted ones through a tweepy `StreamingClient`; with `dry_run`, X checks the changes
    (its `dry_run` parameter) and keeps its rules as they are. HTTP and network errors propagate (tweepy's
    `HTTPException`, requests' errors): the caller backs off and tries again."""
    existing = active_rules(client)
    to_add, to_delete = plan_rules(existing, wanted)
    result = SyncResult(kept=len(existing) - len(to_delete))
    adding_values = {rule.value for rule in to_add}
    first = [rule for rule in to_delete if rule.value in adding_values]
    rest = [rule for rule in to_delete if rule.value not in adding_values]
    _delete(client, first, result, dry_run)
    if to_add:
        from tweepy import StreamRule

        response = client.add_rules([StreamRule(value=r.value, tag=r.tag) for r in to_add], **_dry(dry_run))
        refused = {problem.get("value") for problem in response.errors or []}
        result.problems.extend(_problem_text(problem) for problem in response.errors or [])
        result.added = [rule for rule in to_add if rule.value not in refused]
    _delete(client, rest, result, dry_run)
    return result


def _delete(client, rules: list[ActiveRule], result: SyncResult, dry_run: bool) -> None:
    if not rules:
        return
    response = client.delete_rules([rule.id for rule in rules], **_dry(dry_run))
    refused = {problem.get("id") for problem in response.errors or []}
    result.problems.extend(_problem_text(problem) for problem in response.errors or [])
    result.deleted.extend(rule for rule in rules if rule.id not in refused)


def _dry(dry_run: bool) -> dict:
    # tweepy would send Python's "True"; X documents the parameter as the JSON-style "true"
    return {"dry_run": "true"} if dry_run else {}


def _problem_text(problem: dict) -> str:
    """X's error object for one rule in a few words.

    Scenario: {"title": "DuplicateRule", "value": "@a"} -> "@a: DuplicateRule"."""
    what = problem.get("value") or problem.get("id") or "?"
    words = problem.get("title") or "refused"
    detail = problem.get("detail")
    return f"{what}: {words}" + (f" ({detail})" if detail and detail != words else "")
