"""Scoring: one Post in, one ScoredPost per watched brand it mentions out.

This is exactly what the score agent runs and what `lytte score` runs on stdin, so an operator can ask
"why did this post score like that" without a broker.
"""

from __future__ import annotations

from schemas.records import Evidence, KeyPersonHit, Post, ScoredPost
from schemas.watch import WatchConfig
from streams.core.matching import Matcher
from streams.sentiment.language import LanguageGuesser
from streams.sentiment.router import SentimentRouter


class Scorer:
    def __init__(self, config: WatchConfig) -> None:
        self.matcher = Matcher(config)
        self._sentiment = SentimentRouter.default()
        self._language = LanguageGuesser()

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
        # every part is validated already (the Post by intake, the rest built here): no second validation
        return [
            ScoredPost.model_construct(
                post=post,
                brand=m.brand,
                brand_role=m.role,
                language=language,
                sentiment=sentiment,
                matched_terms=m.terms,
                keywords=m.keywords,
                key_people=people,
                evidence=evidence,
            )
            for m in matches
        ]
