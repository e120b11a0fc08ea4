"""A built-in generator of realistic posts for the watched brands, with a scripted incident.

Posts arrive at a steady rate with random jitter; each names one brand or competitor (by name, alias,
@handle or #hashtag), a few name two, and some name nothing watched (background chatter, which the
worker counts as unmatched). Authors come from a fixed pool with a heavy-tailed follower count. Text is
assembled from phrase parts plus numbers and places, so it repeats about as rarely as a real stream.

The incident: from `incident_at` for `incident_minutes`, the first brand gets a surge of negative posts
(rate x `surge_factor`), and the first key person posts and is mentioned in it.

Time: minute 0 is the start (now). A source can first send `history_minutes` of the past (minutes -history
to 0, as fast as the pipeline takes them), so that the alert rules have the history they learn baselines
from; an incident at a negative minute happens in that history. With `day_night`, the rate follows a day
(a quarter of the mean at 03:00 UTC, 1.75 times it at 15:00), as real brand volume does.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.records import Author, Engagement, Post, PostKind, Source
from schemas.watch import WatchConfig, Watched

_OPENERS = [
    "",
    "Ok so",
    "Honestly,",
    "Just now:",
    "PSA:",
    "Wow.",
    "Update:",
    "Not gonna lie,",
    "Hey",
    "So",
    "Day 2 and",
    "Quick one:",
    "Again?!",
    "Friendly reminder:",
    "Lol",
]
_POSITIVE = [
    "great service from {b} today",
    "{b} crew were amazing",
    "love the new {b} app, so smooth",
    "{b} sorted my problem in minutes, thank you",
    "shoutout to {b} for the upgrade",
    "really impressed with {b} lately",
    "{b} customer support is excellent",
    "smooth and on time with {b}, well done",
    "best experience I've had with {b}",
    "{b} made my day, friendly and fast",
]
_NEUTRAL = [
    "anyone else using {b} this week?",
    "{b} announced new routes for spring",
    "checking in with {b} at terminal {n}",
    "{b} opening hours changed today",
    "reading about {b} and their new plans",
    "switching my plan to {b} next month",
    "what's the {b} policy on pets?",
    "{b} has a sale starting on the {n}th",
    "comparing {b} prices for {place}",
    "saw a {b} ad in {place}",
]
_NEGATIVE = [
    "{b} lost my luggage again",
    "worst delay ever with {b}, {n} hours and counting",
    "{b} app is down and nobody answers",
    "{b} cancelled my booking without telling me",
    "terrible customer service at {b}, still waiting for a refund",
    "{b} charged me twice, this is fraud",
    "never flying {b} again, awful",
    "{b} support hung up on me after {n} minutes",
    "stuck at {place} because of {b}, horrible",
    "{b} fees are a scam, hidden charges everywhere",
]
_CLOSERS = [
    "",
    "",
    "#travel",
    "#fail",
    "🙄",
    "😡",
    "👏",
    "🙏",
    "thoughts?",
    "ugh",
    "!!",
    "10/10",
    "#customerservice",
    "smh",
    "finally",
]
_CHATTER = [
    "coffee first, then emails",
    "the match last night was unreal",
    "new phone who dis",
    "rain again in {place}",
    "reading a great book about {place}",
    "traffic on the ring road is {n} km",
    "happy friday everyone",
    "trying a new recipe tonight",
    "the city skyline at night from {place}",
    "who else is watching the finals at {n}?",
]
_DETAILS = [
    "",
    "",
    "",
    "flight {code}",
    "at {hh}:{mm}",
    "seat {n}{letter}",
    "case #{ref}",
    "order {ref}",
    "gate {letter}{n}",
    "{n} min on hold",
    "day {n}",
    "since {hh}:{mm}",
    "booking {code}",
]
_PLACES = [
    "Oslo",
    "Copenhagen",
    "Bergen",
    "Aarhus",
    "Stavanger",
    "Trondheim",
    "Odense",
    "Gate B{n}",
    "Stockholm",
    "Helsinki",
    "Reykjavik",
    "the lounge",
    "baggage claim",
    "the airport",
    "the city centre",
]
_FIRST = [
    "anna",
    "lars",
    "mette",
    "ole",
    "sofie",
    "jonas",
    "ida",
    "emil",
    "nora",
    "mads",
    "freja",
    "henrik",
    "kari",
    "thomas",
    "line",
    "erik",
    "maja",
    "peter",
    "sara",
    "kasper",
]


@dataclass(frozen=True)
class Incident:
    at_minute: float = 3.0
    minutes: float = 5.0
    surge_factor: float = 4.0


class SynthSource:
    def __init__(
        self,
        config: WatchConfig,
        rate: float = 10.0,
        seed: int = 1,
        incident: Incident | None = Incident(),
        authors: int = 5000,
        chatter_share: float = 0.1,
        day_night: bool = False,
    ) -> None:
        self.config = config
        self.rate = rate
        self.day_night = day_night
        self.incident = incident
        self.chatter_share = chatter_share
        self._rng = random.Random(seed)
        self._authors = [self._author(i) for i in range(authors)]
        self._targets: list[Watched] = [*config.brands, *config.competitors]
        self._counter = 0

    def _author(self, i: int) -> Author:
        rng = self._rng
        name = f"{rng.choice(_FIRST)}{rng.choice(['', '_', '.'])}{rng.randint(1, 9999)}"
        followers = int(min(5_000_000, rng.paretovariate(1.2) * 40))
        return Author(
            id=f"synth-{i}", handle=name, display_name=name.title(), followers=followers, verified=followers > 100_000
        )

    def _mention(self, w: Watched) -> str:
        forms = [w.name, *w.aliases, *(f"@{h}" for h in w.handles), *(f"#{t}" for t in w.hashtags)]
        return self._rng.choice(forms)

    def _fill(self, template: str, mention: str) -> str:
        rng = self._rng
        return template.format(
            b=mention,
            n=rng.randint(2, 48),
            place=rng.choice(_PLACES).format(n=rng.randint(1, 60)),
            code=f"{rng.choice('NFS')}{rng.choice('ABK')}{rng.randint(100, 9999)}",
            hh=f"{rng.randint(0, 23):02d}",
            mm=f"{rng.randint(0, 59):02d}",
            letter=rng.choice("ABCDEF"),
            ref=rng.randint(10_000, 999_999),
        )

    def _text(self, target: Watched | None, mood: str, others: bool = True) -> str:
        rng = self._rng
        if target is None:
            body = self._fill(rng.choice(_CHATTER), "")
        else:
            phrases = {"positive": _POSITIVE, "neutral": _NEUTRAL, "negative": _NEGATIVE}[mood]
            body = self._fill(rng.choice(phrases), self._mention(target))
            if others and rng.random() < 0.05 and len(self._targets) > 1:
                other = rng.choice([t for t in self._targets if t is not target])
                body += f" (unlike {self._mention(other)})"
        words = [rng.choice(_OPENERS), body, self._fill(rng.choice(_DETAILS), ""), rng.choice(_CLOSERS)]
        return " ".join(w for w in words if w)

    def in_incident(self, minute: float) -> bool:
        inc = self.incident
        return inc is not None and inc.at_minute <= minute < inc.at_minute + inc.minutes

    def post(self, created_at: datetime, minute: float) -> Post:
        """One post at `created_at`, `minute` minutes after the source started."""
        rng = self._rng
        self._counter += 1
        surge = self.in_incident(minute) and rng.random() < 1 - 1 / self.incident.surge_factor
        author = rng.choice(self._authors)
        if surge:
            target = self.config.brands[0]
            mood = "negative"
            text = self._text(target, mood, others=False)  # the incident is about the first brand alone
            people = self.config.key_people
            if people and rng.random() < 0.1:
                person = people[0]
                author = Author(
                    id=f"key-{person.handle}",
                    handle=person.handle,
                    display_name=person.name or person.handle,
                    followers=250_000,
                    verified=True,
                )
            elif people and rng.random() < 0.2:
                text += f" via @{people[0].handle}"
        elif rng.random() < self.chatter_share:
            text = self._text(None, "neutral")
        else:
            target = rng.choice(self._targets)
            mood = rng.choices(["positive", "neutral", "negative"], weights=[0.3, 0.45, 0.25])[0]
            text = self._text(target, mood)
        kind = rng.choices(list(PostKind), weights=[0.7, 0.15, 0.1, 0.05])[0]
        return Post(
            source=Source.SYNTH,
            source_id=f"{int(created_at.timestamp() * 1000)}-{self._counter}",
            created_at=created_at,
            text=text,
            language="en",
            author=author,
            kind=kind,
            referenced_id=None if kind is PostKind.ORIGINAL else f"synth:ref-{rng.randint(1, 10**9)}",
            engagement=Engagement(likes=rng.randint(0, 50), reposts=rng.randint(0, 10)),
            url=f"https://synth.lytte.invalid/{author.handle}/{self._counter}",
        )

    def schedule(
        self,
        start: datetime,
        limit: int | None = None,
        history_minutes: float = 0.0,
        duration_minutes: float | None = None,
    ) -> Iterator[tuple[float, Post]]:
        """Yield (seconds after start to send it, post): `history_minutes` of the past first (sent at once,
        dated as they happened), then posts dated as they are sent, for `duration_minutes` (None: forever) or
        `limit` posts, at `rate` posts/s (times the day's rhythm with `day_night`), faster in the incident.

        Scenario: rate 1, history 60, duration 0 -> about 3,600 posts dated over the hour before start, all
        with delay 0.0; history 0, duration 1 -> about 60 posts over the next minute, each at its own second."""
        t = -history_minutes * 60
        n = 0
        while limit is None or n < limit:
            minute = t / 60
            rate = self.rate * (self.incident.surge_factor if self.in_incident(minute) else 1.0)
            if self.day_night:
                rate *= day_night(start + timedelta(seconds=t))
            t += self._rng.expovariate(rate)
            if duration_minutes is not None and t >= duration_minutes * 60:
                return
            yield max(0.0, t), self.post(start + timedelta(seconds=t), t / 60)
            n += 1


def day_night(at: datetime) -> float:
    """The day's rhythm as a factor on the mean rate: 03:00 UTC -> 0.25, 09:00 -> 1.0, 15:00 -> 1.75."""
    hours = at.hour + at.minute / 60
    return 1.0 + 0.75 * math.sin((hours - 9) / 24 * 2 * math.pi)
