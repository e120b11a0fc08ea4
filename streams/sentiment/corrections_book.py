"""Each brand's corrections as examples for its adjustment (`streams.sentiment.adjust`), folded from the actions.

Every worker reads the `correct_sentiment` actions of `lytte.actions` into a book: per brand, the newest
correction of each post (by the action's time; a later correction of the same post replaces an earlier one,
a confirmation counts like a correction). Only corrections whose text is known can teach anything; the others
(a post given by hand without `--text`) stay in the log and change the counts only. A brand keeps its newest
`KEPT` corrections: training time grows with them (about 1 to 1.6 s for 1,000), and an operator's recent
reading of the brand's posts is the one that matters.

Scenario: actions correcting x:1 to negative (05:00), x:2 to neutral (05:01), x:1 to positive (05:02), all of
nordair -> `add` returns "nordair" three times; `examples("nordair")` -> [(x:2's text, ..., "neutral"),
(x:1's text, ..., "positive")], oldest first. The 05:00 action read again -> None (nothing changed). An ack ->
None.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.alerts import Action

#: corrections kept per brand, the newest
KEPT = 2_000


@dataclass(frozen=True)
class Taught:
    """What one correction teaches: the text, the language it was scored in (None: guess again) and the label."""

    at_ms: int
    text: str
    language: str | None
    label: str


class CorrectionsBook:
    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        self._by_brand: dict[str, dict[str, Taught]] = {}

    def add(self, action: Action) -> str | None:
        """Fold one action; return its brand when the brand's examples changed, else None."""
        c = action.correction
        if action.kind != "correct_sentiment" or c is None or not c.text:
            return None
        taught = Taught(int(action.at.timestamp() * 1000), c.text, c.language, c.new_label)
        posts = self._by_brand.setdefault(c.brand, {})
        known = posts.get(c.post_id)
        if known is not None and known.at_ms >= taught.at_ms:
            return None
        posts[c.post_id] = taught
        if len(posts) > self._kept:
            oldest = min(posts, key=lambda post_id: posts[post_id].at_ms)
            del posts[oldest]
        return c.brand

    def examples(self, brand: str) -> list[Taught]:
        """The brand's corrections, oldest first."""
        return sorted(self._by_brand.get(brand, {}).values(), key=lambda t: t.at_ms)

    def brands(self) -> list[str]:
        return sorted(self._by_brand)
