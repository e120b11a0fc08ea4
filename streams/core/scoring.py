"""Scoring: one Post in, one ScoredPost per watched brand it mentions out.

This is exactly what the score agent runs and what `lytte score` runs on stdin, so an operator can ask
"why did this post score like that" without a broker.

A brand whose operators have corrected enough of its posts has an adjustment on top of the base scorer
(`streams.sentiment.adjust`), trained by the worker from the corrections (`streams.agents.learning`) and set
here: that brand's ScoredPosts carry the adjusted label, and a model name ending "+adjust-<N>" that says so.
"""

from __future__ import annotations

from schemas.records import Evidence, KeyPersonHit, Post, ScoredPost
from schemas.watch import WatchConfig
from streams.core.matching import Matcher
from streams.sentiment.adjust import Adjustment, Example
from streams.sentiment.corrections_book import Taught
from streams.sentiment.language import LanguageGuesser
from streams.sentiment.router import SentimentRouter


class Scorer:
    def __init__(self, config: WatchConfig) -> None:
        self.matcher = Matcher(config)
        self._sentiment = SentimentRouter.default()
        self._language = LanguageGuesser()
        #: brand -> its adjustment, for brands with one that applies
        self._adjustments: dict[str, Adjustment] = {}

    def set_adjustment(self, adjustment: Adjustment) -> None:
        """Use a brand's adjustment from now on (one that does not apply removes the brand's)."""
        if adjustment.applied:
            self._adjustments[adjustment.brand] = adjustment
        else:
            self._adjustments.pop(adjustment.brand, None)

    def base_examples(self, taught: list[Taught]) -> list[Example]:
        """Corrections as training examples: each text with the base scorer's sentiment of it, in the language it
        was scored in (guessed again when not known)."""
        return [
            Example(t.text, self._sentiment.score(t.text, t.language or self._language.language(t.text, None)), t.label)
            for t in taught
        ]

    def score(self, post: Post, evidence: Evidence) -> list[ScoredPost]:
        """Scenario: "@nordair lost my bag, worst trip ever" -> one ScoredPost for nordair with a negative
        sentiment; a post naming nordair and skyline -> two; a post naming nothing watched -> [] (counted as
        unmatched by the caller, never silently dropped)."""
        matches = self.matcher.brands(post.text)
        if not matches:
            return []
        language = self._language.language(post.text, post.language)
        sentiment = self._sentiment.score(post.text, language)
        people = tuple(
            KeyPersonHit(handle=m.person.handle, label=m.person.label, role=m.role)
            for m in self.matcher.key_people(post.author.handle, post.text)
        )
        adjustments = self._adjustments
        # every part is validated already (the Post by intake, the rest built here): no second validation
        return [
            ScoredPost.model_construct(
                post=post,
                brand=m.brand,
                brand_role=m.role,
                language=language,
                sentiment=adjustments[m.brand].adjust(post.text, sentiment) if m.brand in adjustments else sentiment,
                matched_terms=m.terms,
                keywords=m.keywords,
                key_people=people,
                evidence=evidence,
            )
            for m in matches
        ]
