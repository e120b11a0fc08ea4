"""Every worker learns each brand's adjustment from its operators' corrections, off the scoring path.

A task reads `lytte.actions` (one partition) from the start, then what is new every `EVERY_S`, with its own
log reader (no consumer group: every worker needs every correction). The corrections go into a
`CorrectionsBook`; a brand whose corrections changed is trained again in a thread (`adjust.train`: 0.1 s for
100 corrections, 1 to 1.6 s for 1,000) and the scorer uses the new adjustment from its next batch on. A brand
gets an adjustment once it has `adjust.MIN_CORRECTIONS` corrections with their text.

Bounded: each pass reads at most `READ_MAX` records and each read attempt is bounded by the reader; a failed
pass is logged and tried again at the next one, and scoring goes on with the adjustments it has. Off with
`LYTTE_ADJUST_SENTIMENT=false`: the base scorers alone then score every brand.
"""

from __future__ import annotations

import asyncio
import logging

import faust

from schemas.alerts import Action
from schemas.settings import Settings
from schemas.topics import Topic
from streams.agents.gaps import GapReader
from streams.core.batch import failure_reason
from streams.core.scoring import Scorer
from streams.sentiment import adjust
from streams.sentiment.corrections_book import CorrectionsBook

log = logging.getLogger(__name__)

EVERY_S = 5.0
READ_MAX = 5_000


class Learning:
    def __init__(self, app: faust.App, settings: Settings, scorer: Scorer) -> None:
        self.topic = Topic.ACTIONS.name(settings.topic_prefix)
        self.scorer = scorer
        self.book = CorrectionsBook()
        self.reader = GapReader(settings.bootstrap)
        self.position = 0
        app.timer(EVERY_S)(self.learn)
        app.on_before_shutdown.connect(self._close)

    async def _close(self, app: faust.App, **kwargs) -> None:
        await self.reader.close()

    async def learn(self) -> None:
        """One pass: read the new actions, train the brands whose corrections changed."""
        try:
            changed = await self.read_new()
            for brand in sorted(changed):
                await self.train(brand)
        except Exception as exc:  # a pass that fails is tried again; scoring goes on
            log.warning("learning: %s; trying again in %.0f s", failure_reason(exc), EVERY_S)

    async def read_new(self) -> set[str]:
        ends = await self.reader.end_offsets(self.topic, [0])
        if not ends or ends[0] <= self.position:
            return set()
        offsets = range(self.position, min(ends[0], self.position + READ_MAX))
        changed: set[str] = set()
        for record in await self.reader.read(self.topic, 0, offsets):
            try:
                brand = self.book.add(Action.model_validate_json(record.value or b""))
            except ValueError:  # the alert agent deadletters what is not an action
                continue
            if brand is not None:
                changed.add(brand)
        self.position = offsets.stop
        return changed

    async def train(self, brand: str) -> None:
        taught = self.book.examples(brand)
        # the base scores of the examples too, in the thread: 2,000 of them take about half a second
        adjustment = await asyncio.to_thread(lambda: adjust.train(self.scorer.base_examples(taught), brand))
        self.scorer.set_adjustment(adjustment)
        if adjustment.applied:
            log.info("learning: %s adjusted from %d corrections", brand, adjustment.corrections)
