"""`lytte sentiment curve`: how much N operator corrections per brand raise accuracy (the learning curve).

For each brand of a labelled file and each N: draw N of the brand's posts at random as its corrections (the
operator's label is the file's label; the base label is what the worker's scorer gives), train the brand's
adjustment (`streams.sentiment.adjust`) on them, and score the brand's other posts with the base scorer and with
the adjustment. Accuracy and macro-F1 of both on those other posts, the mean over `repeats` draws, per brand and
overall (the brands' posts pooled, per draw). A brand with no more than N posts has no figure for that N (it
would have nothing left to score), and the overall figure for that N then leaves it out (`brands` names those
counted).

Every text is scored once by the worker's call (`SentimentRouter.score(text, lang)`); the draws are seeded by
(seed, brand, N, repeat), so one seed gives the same figures every run.

Data: the airline tweets (`../shared/data/airline/Tweets.csv`) are CC BY-NC-SA: they are read where they lie, for
measurement only. The adjustments trained here are thrown away; nothing trained on them ships or is saved in
the project, and no setting of the adjustment was chosen by looking at these figures.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from schemas.records import Sentiment
from streams.sentiment.adjust import Example, adjust_all, train
from streams.sentiment.evaluate import EvaluationError, accuracy, class_for_label, confusion, macro_f1, read_rows
from streams.sentiment.router import SentimentRouter


@dataclass(frozen=True)
class Labelled:
    text: str
    label: str
    brand: str


@dataclass(frozen=True)
class Point:
    """One brand (or all of them) at one N: the means over the draws."""

    n: int
    scored: int
    base_accuracy: float
    adjusted_accuracy: float
    base_macro_f1: float
    adjusted_macro_f1: float
    brands: tuple[str, ...] = ()

    def as_json(self) -> dict:
        return {
            "n": self.n,
            "scored": self.scored,
            "base_accuracy": self.base_accuracy,
            "adjusted_accuracy": self.adjusted_accuracy,
            "base_macro_f1": self.base_macro_f1,
            "adjusted_macro_f1": self.adjusted_macro_f1,
            "brands": list(self.brands),
        }


@dataclass(frozen=True)
class Curve:
    language: str
    posts: int
    repeats: int
    seed: int
    overall: tuple[Point, ...]
    by_brand: dict[str, tuple[Point, ...]] = field(default_factory=dict)
    brand_posts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_json(self) -> dict:
        return {
            "language": self.language,
            "posts": self.posts,
            "repeats": self.repeats,
            "seed": self.seed,
            "overall": [p.as_json() for p in self.overall],
            "brands": {
                b: {"posts": self.brand_posts[b], "points": [p.as_json() for p in ps]}
                for b, ps in self.by_brand.items()
            },
            "seconds": round(self.seconds, 1),
        }

    def lines(self, source: str) -> list[str]:
        out = [
            f"sentiment curve: {source}: {self.posts:,} posts, {len(self.by_brand)} brands, language "
            f"{self.language}, mean of {self.repeats} draw(s), seed {self.seed}",
            f"  {'brand':<16} {'posts':>6} {'N':>5} {'scored':>6}  {'accuracy base -> adjusted':>26}  "
            f"{'macro-F1 base -> adjusted':>26}",
        ]

        def row(name: str, posts: str, p: Point) -> str:
            return (
                f"  {name:<16} {posts:>6} {p.n:>5} {p.scored:>6}  {p.base_accuracy:>10.3f} -> {p.adjusted_accuracy:.3f}"
                f" ({p.adjusted_accuracy - p.base_accuracy:+.3f})  {p.base_macro_f1:>6.3f} -> {p.adjusted_macro_f1:.3f}"
                f" ({p.adjusted_macro_f1 - p.base_macro_f1:+.3f})"
            )

        for p in self.overall:
            left_out = len(self.by_brand) - len(p.brands)
            out.append(row("all", f"{self.posts:,}", p) + (f"  ({left_out} brand(s) too small)" if left_out else ""))
        for brand, points in self.by_brand.items():
            for p in points:
                out.append(row(brand[:16], f"{self.brand_posts[brand]:,}", p))
        out.append(f"  {self.seconds:.1f} s")
        return out


def read_labelled(path: Path, text_field: str, label_field: str, brand_field: str) -> list[Labelled]:
    """Scenario: a CSV row text "late again", airline_sentiment "negative", airline "Delta" -> Labelled("late
    again", "negative", "Delta"); a row without text or brand, or with a label that is not one of the three
    classes -> EvaluationError naming the row."""
    out = []
    for number, row in enumerate(read_rows(path), 1):
        if not isinstance(row, dict):
            raise EvaluationError(f"{path}: row {number}: not an object")
        text, brand = row.get(text_field), row.get(brand_field)
        if not isinstance(text, str) or not text.strip():
            raise EvaluationError(f"{path}: row {number}: no text in field {text_field!r}")
        if not isinstance(brand, str) or not brand.strip():
            raise EvaluationError(f"{path}: row {number}: no brand in field {brand_field!r}")
        label = class_for_label(row.get(label_field))
        if label is None:
            raise EvaluationError(
                f"{path}: row {number}: label {row.get(label_field)!r} in field {label_field!r} is not positive, "
                "neutral or negative"
            )
        out.append(Labelled(text, label, brand.strip()))
    if not out:
        raise EvaluationError(f"{path}: no rows")
    return out


def _draw(items: Sequence[int], n: int, seed: int, brand: str, repeat: int) -> tuple[list[int], list[int]]:
    """N of the brand's post indices as corrections and the rest, by a generator seeded with all four (a string
    seed is hashed with SHA-512 by `random`: the same in every process)."""
    chosen = set(random.Random(f"{seed}:{brand}:{n}:{repeat}").sample(range(len(items)), n))
    train_at = [items[i] for i in range(len(items)) if i in chosen]
    rest = [items[i] for i in range(len(items)) if i not in chosen]
    return train_at, rest


def learning_curve(
    posts: Sequence[Labelled],
    language: str,
    ns: Sequence[int],
    repeats: int = 3,
    seed: int = 1,
    router: SentimentRouter | None = None,
) -> Curve:
    """Scenario: 600 posts of two brands in which the base scorer calls "thanks for ..." posts positive while
    their label is negative, ns (100,), 1 repeat -> per brand and overall, adjusted accuracy above the base's on
    the 500 posts left of each brand; ns (1000,) -> no brand has enough posts: no points, overall empty."""
    started = time.perf_counter()
    router = router or SentimentRouter.default()
    bases: list[Sentiment] = [router.score(p.text, language) for p in posts]
    by_brand: dict[str, list[int]] = {}
    for i, p in enumerate(posts):
        by_brand.setdefault(p.brand, []).append(i)
    brands = sorted(by_brand)
    # per N, per repeat: each brand's (gold, base, adjusted) labels on its rest
    results: dict[int, list[dict[str, tuple[list[str], list[str], list[str]]]]] = {}
    for n in ns:
        results[n] = []
        for repeat in range(repeats):
            per_brand = {}
            for brand in brands:
                indices = by_brand[brand]
                if len(indices) <= n:
                    continue
                train_at, rest = _draw(indices, n, seed, brand, repeat)
                adjustment = train([Example(posts[i].text, bases[i], posts[i].label) for i in train_at], brand)
                adjusted = adjust_all(adjustment, [posts[i].text for i in rest], [bases[i] for i in rest])
                per_brand[brand] = ([posts[i].label for i in rest], [bases[i].label for i in rest], adjusted)
            results[n].append(per_brand)
    by_brand_points = {
        brand: tuple(
            _point(n, [[draw[brand]] for draw in results[n]], (brand,)) for n in ns if len(by_brand[brand]) > n
        )
        for brand in brands
    }
    overall = []
    for n in ns:
        counted = tuple(b for b in brands if len(by_brand[b]) > n)
        if counted:
            overall.append(_point(n, [list(draw.values()) for draw in results[n]], counted))
    return Curve(
        language=language,
        posts=len(posts),
        repeats=repeats,
        seed=seed,
        overall=tuple(overall),
        by_brand=by_brand_points,
        brand_posts={b: len(by_brand[b]) for b in brands},
        seconds=time.perf_counter() - started,
    )


def _point(n: int, draws: list[list[tuple[list[str], list[str], list[str]]]], brands: tuple[str, ...]) -> Point:
    """Means over the draws of the figures of each draw's pooled parts."""
    figures = []
    for parts in draws:
        gold = [g for part in parts for g in part[0]]
        base = [b for part in parts for b in part[1]]
        adjusted = [a for part in parts for a in part[2]]
        base_table, adjusted_table = confusion(gold, base), confusion(gold, adjusted)
        figures.append(
            (len(gold), accuracy(base_table), accuracy(adjusted_table), macro_f1(base_table), macro_f1(adjusted_table))
        )
    return Point(
        n=n,
        scored=round(statistics.mean(f[0] for f in figures)),
        base_accuracy=round(statistics.mean(f[1] for f in figures), 4),
        adjusted_accuracy=round(statistics.mean(f[2] for f in figures), 4),
        base_macro_f1=round(statistics.mean(f[3] for f in figures), 4),
        adjusted_macro_f1=round(statistics.mean(f[4] for f in figures), 4),
        brands=brands,
    )


def parse_ns(text: str) -> list[int]:
    """ "100,300,1000" -> [100, 300, 1000]; "0" or "ten" -> ValueError."""
    try:
        ns = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--n {text!r}: expected positive whole numbers separated by commas") from None
    if not ns or any(n <= 0 for n in ns):
        raise ValueError(f"--n {text!r}: expected positive whole numbers separated by commas")
    return ns
