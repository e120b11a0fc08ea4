"""Which watched brands, competitors and key people a post is about.

Matching is case-insensitive on whole words: `Delta` matches "flying delta today" but not "deltasonic";
`@delta` and `#delta` match the handle and the hashtag. A brand's `exclude` phrases are blanked out first,
so "United States" does not count as a mention of United. Keywords are only recorded for a post that
already matched the brand: a keyword alone ("delay") is not a mention.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from schemas.watch import KeyPerson, WatchConfig, Watched

# A term starts where no word character, @ or # precedes it, and ends where no word character follows.
# "@united" is a handle mention, so a bare name must not match inside a handle or hashtag either.
_BEFORE = r"(?<![\w@#])"
_AFTER = r"(?!\w)"

# Under re.IGNORECASE these four match ASCII letters (the Python `re` documentation names them); casefold
# covers the other letters `re` treats as one (ς and σ, µ and μ, ...). The quick substring test below folds
# text and terms this way, so that it never rules out a text the pattern would match.
_RE_CASE_SPECIALS = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def fold_for_search(text: str) -> str:
    """What the quick substring test searches: "Delayed by @NordAır" -> "delayed by @nordair"."""
    return text.translate(_RE_CASE_SPECIALS).casefold()


def _needle(term: str) -> str:
    """The part of a term every match of it contains: its first word, folded ("Nord Air" -> "nord")."""
    return fold_for_search(term.strip().split()[0])


def _alternation(terms: list[str]) -> str:
    # longest first so that "Nord Air" wins over "Nord"
    escaped = sorted({re.escape(t.strip()).replace(r"\ ", r"\s+") for t in terms}, key=len, reverse=True)
    return "|".join(escaped)


def _pattern(words: list[str], handles: list[str], hashtags: list[str]) -> re.Pattern[str] | None:
    parts = []
    if words:
        parts.append(f"{_BEFORE}(?:{_alternation(words)}){_AFTER}")
    if handles:
        parts.append(f"(?<![\\w@])@(?:{_alternation(handles)}){_AFTER}")
    if hashtags:
        parts.append(f"(?<![\\w#])#(?:{_alternation(hashtags)}){_AFTER}")
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


@dataclass(frozen=True)
class BrandMatch:
    brand: str
    role: Literal["brand", "competitor"]
    terms: tuple[str, ...]
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class KeyPersonMatch:
    person: KeyPerson
    role: Literal["author", "mentioned"]


@dataclass(frozen=True)
class _CompiledWatch:
    watched: Watched
    role: Literal["brand", "competitor"]
    mention: re.Pattern[str]
    exclude: re.Pattern[str] | None
    keywords: re.Pattern[str] | None
    #: a match of `mention` contains one of these (folded): a text without any cannot match, and a
    #: substring test is far cheaper than the pattern's scan with look-arounds
    needles: tuple[str, ...]

    def match(self, text: str, folded: str) -> BrandMatch | None:
        if not any(n in folded for n in self.needles):
            return None
        if self.exclude is not None:
            text = self.exclude.sub(" ", text)
        terms = {m.group(0).lower() for m in self.mention.finditer(text)}
        if not terms:
            return None
        keywords = set()
        if self.keywords is not None:
            keywords = {" ".join(m.group(0).lower().split()) for m in self.keywords.finditer(text)}
        return BrandMatch(self.watched.id, self.role, tuple(sorted(terms)), tuple(sorted(keywords)))


class Matcher:
    """Compiled once from a WatchConfig; `brands(text)` and `key_people(...)` are then pure lookups."""

    def __init__(self, config: WatchConfig) -> None:
        self._watches = []
        for watched, role in config.watched():
            terms = [watched.name, *watched.aliases, *watched.handles, *watched.hashtags]
            mention = _pattern([watched.name, *watched.aliases], watched.handles, watched.hashtags)
            self._watches.append(
                _CompiledWatch(
                    watched=watched,
                    role=role,
                    mention=mention,
                    exclude=_pattern(watched.exclude, [], []),
                    keywords=_pattern(watched.keywords, [], []),
                    needles=tuple(sorted({_needle(t) for t in terms if t.strip()})),
                )
            )
        self._people = {p.handle.casefold(): p for p in config.key_people}
        # One named group per person: the match says who it is, whatever case folding made it match
        # ("@ingrid_newſ" matches "ingrid_news" under IGNORECASE, and "ſ".lower() is still "ſ").
        people = sorted(enumerate(config.key_people), key=lambda ip: len(ip[1].handle), reverse=True)
        self._people_by_group = {f"p{i}": person for i, person in people}
        self._people_pattern = (
            re.compile(
                r"(?<![\w@])@(?:"
                + "|".join(f"(?P<p{i}>{re.escape(person.handle)})" for i, person in people)
                + f"){_AFTER}",
                re.IGNORECASE,
            )
            if people
            else None
        )

    def brands(self, text: str) -> list[BrandMatch]:
        """Scenario: "Stuck at the gate again @nordair, 3h delay" -> [BrandMatch("nordair", "brand",
        terms=("@nordair",), keywords=("delay",))]; "the city skyline at night" -> []."""
        folded = fold_for_search(text)
        return [m for w in self._watches if (m := w.match(text, folded)) is not None]

    def key_people(self, author_handle: str, text: str) -> list[KeyPersonMatch]:
        """Scenario: author "@Ingrid_News" -> [author match]; a post mentioning "@travelwithtom" ->
        [mentioned match]; the same person as author and in the text counts once, as author."""
        found: dict[str, KeyPersonMatch] = {}
        author = self._people.get(author_handle.removeprefix("@").casefold())
        if author is not None:
            found[author.handle.casefold()] = KeyPersonMatch(author, "author")
        if self._people_pattern is not None:
            for m in self._people_pattern.finditer(text):
                person = self._people_by_group[m.lastgroup]
                if person.handle.casefold() not in found:
                    found[person.handle.casefold()] = KeyPersonMatch(person, "mentioned")
        return list(found.values())
