"""`lytte sentiment eval`: how a labelled file scores through exactly the call the worker makes.

Every text goes through `SentimentRouter.score(text, lang)` of the router the worker builds
(`SentimentRouter.default()`), and the result is compared with the file's labels: accuracy, macro-F1, recall
per class and, where the file gives valences, Pearson's r of the compound against them. Throughput is timed on
the same texts beside raw VADER's (`VaderScorer`, the baseline `lytte bench` reports), in alternating blocks,
so that both see the same machine load.

Files: CSV with a header row, JSON Lines, or one JSON list of objects (NoReC's files are lists of {sent_id,
text, label}). Labels positive/neutral/negative in any case; valences are numbers whose sign gives the class
(3 classes by the sign, as the DaNLP benchmark does for LCC).

Labelled data sets with licences that forbid redistribution (the airline tweets, CC BY-NC-SA; NoReC, CC BY-NC)
are read where they lie (`../shared/data`), never copied into the project, and nothing that ships is fitted on
them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streams.sentiment.router import SentimentRouter
from streams.sentiment.vader import VaderScorer

CLASSES = ("negative", "neutral", "positive")
#: texts per timed block; the scorer and the baseline alternate block by block
BLOCK = 500


class EvaluationError(ValueError):
    """A file that cannot be evaluated: unreadable, or a row without text or label (the message names it)."""


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    valence: float | None = None


@dataclass(frozen=True)
class Report:
    n: int
    language: str
    model: str
    accuracy: float
    macro_f1: float
    recall: dict[str, float]
    pearson_r: float | None
    posts_per_s: float
    vader_posts_per_s: float
    #: confusion[label][scored]: how many posts of each label got each scored label
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "n": self.n,
            "language": self.language,
            "model": self.model,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "recall": self.recall,
            "pearson_r": self.pearson_r,
            "posts_per_s": self.posts_per_s,
            "vader_posts_per_s": self.vader_posts_per_s,
            "confusion": self.confusion,
        }

    def lines(self, source: str) -> list[str]:
        recall = "  ".join(f"{c} {v:.3f}" for c, v in self.recall.items())
        ratio = self.posts_per_s / self.vader_posts_per_s if self.vader_posts_per_s else float("nan")
        out = [
            f"sentiment eval: {source}: {self.n:,} posts, language {self.language}, model {self.model}",
            f"  accuracy   {self.accuracy:.3f}",
            f"  macro-F1   {self.macro_f1:.3f}",
            f"  recall     {recall}",
        ]
        if self.pearson_r is not None:
            out.append(f"  pearson r  {self.pearson_r:.3f} (compound against the valences)")
        out.append(
            f"  posts/s    {self.posts_per_s:,.0f} (raw VADER on the same texts: {self.vader_posts_per_s:,.0f}; "
            f"{ratio:.2f}x)"
        )
        out.append("  confusion  label -> scored " + ", ".join(CLASSES))
        out += [f"    {c:9s} {' '.join(f'{self.confusion[c][s]:7,d}' for s in CLASSES)}" for c in CLASSES]
        return out


# -- reading ------------------------------------------------------------------------------------------------


def class_for_label(value: object) -> str | None:
    """ "Positive" -> "positive"; " NEGATIVE " -> "negative"; "mixed" -> None; None -> None."""
    label = str(value).strip().lower() if value is not None else ""
    return label if label in CLASSES else None


def class_for_valence(valence: float) -> str:
    """3 classes by the sign: 2 -> "positive"; -0.5 -> "negative"; 0 -> "neutral"."""
    return "positive" if valence > 0 else "negative" if valence < 0 else "neutral"


def read_rows(path: Path) -> list[dict]:
    """The file's records: a CSV with a header, a JSON list of objects, or JSON Lines (by the first character
    that is not white space: "[" is a JSON list, "{" JSON Lines, anything else CSV)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationError(f"{path}: {exc}") from None
    head = text.lstrip()[:1]
    try:
        if head == "[":
            rows = json.loads(text)
            if not isinstance(rows, list):
                raise EvaluationError(f"{path}: not a JSON list")
            return rows
        if head == "{":
            # only "\n" ends a record: str.splitlines would also split at U+2028 inside a JSON string
            return [json.loads(line) for line in text.split("\n") if line.strip()]
    except json.JSONDecodeError as exc:
        raise EvaluationError(f"{path}: not JSON: {exc}") from None
    return list(csv.DictReader(io.StringIO(text, newline="")))


def read_examples(
    path: Path, text_field: str = "text", label_field: str = "label", valence_field: str | None = None
) -> list[Example]:
    """Scenario: a CSV `text,airline_sentiment` row `"late again",negative` with label_field
    "airline_sentiment" -> Example("late again", "negative"); with valence_field "valence" and a row valence
    "-3" -> Example(text, "negative", -3.0); a row without text or with the label "mixed" -> EvaluationError
    naming its row."""
    examples = []
    for number, row in enumerate(read_rows(path), 1):
        if not isinstance(row, dict):
            raise EvaluationError(f"{path}: row {number}: not an object")
        text = row.get(text_field)
        if not isinstance(text, str) or not text.strip():
            raise EvaluationError(f"{path}: row {number}: no text in field {text_field!r}")
        if valence_field:
            try:
                valence = float(row.get(valence_field))
            except (TypeError, ValueError):
                raise EvaluationError(f"{path}: row {number}: no number in field {valence_field!r}") from None
            if not math.isfinite(valence):
                raise EvaluationError(f"{path}: row {number}: valence {valence}")
            examples.append(Example(text, class_for_valence(valence), valence))
            continue
        label = class_for_label(row.get(label_field))
        if label is None:
            raise EvaluationError(
                f"{path}: row {number}: label {row.get(label_field)!r} in field {label_field!r} is not "
                "positive, neutral or negative"
            )
        examples.append(Example(text, label))
    if not examples:
        raise EvaluationError(f"{path}: no rows")
    return examples


# -- measures -----------------------------------------------------------------------------------------------


def confusion(gold: Sequence[str], scored: Sequence[str]) -> dict[str, dict[str, int]]:
    """(["negative", "negative"], ["negative", "positive"]) -> negative: {negative 1, neutral 0, positive 1},
    neutral and positive all 0."""
    table = {c: dict.fromkeys(CLASSES, 0) for c in CLASSES}
    for g, s in zip(gold, scored, strict=True):
        table[g][s] += 1
    return table


def accuracy(table: dict[str, dict[str, int]]) -> float:
    """The share on the diagonal: negative {negative 3, positive 1}, others 0 -> 0.75."""
    total = sum(sum(row.values()) for row in table.values())
    return sum(table[c][c] for c in CLASSES) / total if total else 0.0


def recall(table: dict[str, dict[str, int]]) -> dict[str, float]:
    """Per class, the share of its posts scored as it: negative {negative 3, positive 1} -> negative 0.75; a
    class without posts -> 0.0."""
    return {c: table[c][c] / sum(table[c].values()) if sum(table[c].values()) else 0.0 for c in CLASSES}


def macro_f1(table: dict[str, dict[str, int]]) -> float:
    """The mean of the three classes' F1 (2 TP / (2 TP + FP + FN)); a class never labelled nor scored counts
    0, as in scikit-learn. Scenario: everything right -> 1.0; negative {negative 2}, positive {negative 2}
    -> (2/3 + 0 + 0) / 3 = 0.222."""
    scores = []
    for c in CLASSES:
        tp = table[c][c]
        fp = sum(table[g][c] for g in CLASSES) - tp
        fn = sum(table[c].values()) - tp
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def pearson_r(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's r, None when it is undefined (fewer than two points, or one series constant):
    ([1, 2, 3], [2, 4, 7]) -> 0.993; ([0, 0], [1, 2]) -> None."""
    try:
        return statistics.correlation(xs, ys)
    except statistics.StatisticsError:
        return None


def timed_alternately(
    first: Callable[[str], object], second: Callable[[str], object], texts: Sequence[str]
) -> tuple[list[object], float, float]:
    """Run both over the texts in alternating blocks: (first's results, first's texts/s, second's texts/s)."""
    results: list[object] = []
    spent = [0.0, 0.0]
    for start in range(0, len(texts), BLOCK):
        block = texts[start : start + BLOCK]
        t = time.perf_counter()
        results.extend(first(text) for text in block)
        spent[0] += time.perf_counter() - t
        t = time.perf_counter()
        for text in block:
            second(text)
        spent[1] += time.perf_counter() - t
    return results, len(texts) / max(spent[0], 1e-9), len(texts) / max(spent[1], 1e-9)


def evaluate(examples: Sequence[Example], language: str, router: SentimentRouter | None = None) -> Report:
    """Score every example as the worker would in `language` and compare with the labels.
    Scenario: ["I love it" positive, "worst trip ever" negative] in "en" -> accuracy 1.0, recall negative 1.0
    and positive 1.0, neutral 0.0 (no neutral posts), pearson_r None (no valences)."""
    router = router or SentimentRouter.default()
    scorer = router.scorer(language)
    baseline = VaderScorer()
    texts = [e.text for e in examples]
    sentiments, rate, vader_rate = timed_alternately(lambda t: router.score(t, language), baseline.score, texts)
    table = confusion([e.label for e in examples], [s.label for s in sentiments])
    valences = [e.valence for e in examples]
    r = None
    if all(v is not None for v in valences):
        r = pearson_r([s.compound for s in sentiments], valences)
    return Report(
        n=len(examples),
        language=language,
        model=scorer.model if scorer is not None else "unscored",
        accuracy=round(accuracy(table), 4),
        macro_f1=round(macro_f1(table), 4),
        recall={c: round(v, 4) for c, v in recall(table).items()},
        pearson_r=None if r is None else round(r, 4),
        posts_per_s=round(rate, 1),
        vader_posts_per_s=round(vader_rate, 1),
        confusion=table,
    )
