"""A mixed-language stream through Kafka and a real worker: each post is scored by its own language's model.

English, Danish, Norwegian Bokmål and Nynorsk, Swedish and German posts about a watched brand go to posts.raw,
half with the source's language tag and half left to lytte's guess. On posts.scored each one carries the
model of its language; German, which no scorer covers, is unscored (neutral, scored False).
"""

from __future__ import annotations

import pytest

from schemas.records import ScoredPost
from schemas.topics import Topic
from streams.sentiment.nordic import model_name
from streams.sentiment.router import SentimentRouter, base_language
from tests.fixtures.workers import counters, read_topic, wait_until
from tests.integration.test_pipeline import produce

pytestmark = pytest.mark.integration

#: (text, the source's language tag or None for lytte's guess, the language lytte should read, expected label;
#: None where the English rules, which another change may tune, decide)
STREAM = [
    ("Nordair lost my bag again, worst trip ever", "en", "en", "negative"),
    ("Thank you @nordair, a great flight and a lovely crew", None, "en", None),
    ("Nordair var forsinket igen, elendig service og ingen undskyldning", "da", "da", "negative"),
    ("Tak til Nordair for en rigtig god tur, personalet var søde og hjælpsomme", None, "da", "positive"),
    ("Nordair er forsinket igjen, elendig service", "nb", "no", "negative"),
    ("Takk til Nordair for en veldig hyggelig tur i dag, mannskapet var flinke", None, "no", "positive"),
    ("Nordair er forsinka igjen, eg er skuffa og ingen svarar oss", "nn", "no", "negative"),
    ("Maten hjå Nordair var ikkje dårleg", "nn", "no", "positive"),
    ("Nordair är försenat igen, usel service och ingen ursäkt", "sv", "sv", "negative"),
    ("Tack Nordair för en mycket trevlig resa, personalen var jättebra", None, "sv", "positive"),
    ("Nordair hat meinen Flug gestrichen, schlechter Service", "de", "de", "neutral"),
    ("Der Flug mit Nordair war leider wieder verspätet und niemand hilft uns", None, "de", "neutral"),
]


def test_each_language_is_scored_by_its_own_model_end_to_end(services_settings, spawn, redis_client, post_factory):
    settings = services_settings
    posts = [post_factory(text, language=tag) for text, tag, _, _ in STREAM]
    expected = {post.id: (language, label) for post, (_, _, language, label) in zip(posts, STREAM, strict=True)}
    english_model = SentimentRouter.default().scorer("en").model
    models = {"en": english_model, "da": model_name("da"), "no": model_name("no"), "sv": model_name("sv")}

    worker = spawn(settings, "worker")
    produce(settings, posts)
    wait_until(
        lambda: counters(redis_client, settings)["scored_records"] == len(posts), 120, "every post scored", worker
    )

    scored = [
        ScoredPost.model_validate_json(record.value)
        for record in read_topic(settings, Topic.POSTS_SCORED.name(settings.topic_prefix))
    ]
    assert sorted(s.post.id for s in scored) == sorted(expected)
    for s in scored:
        language, label = expected[s.post.id]
        assert base_language(s.language) == language, s.post.text
        assert label is None or s.sentiment.label == label, s.post.text
        if language == "de":
            assert (s.sentiment.scored, s.sentiment.model, s.sentiment.confidence) == (False, "unscored", 0.0)
        else:
            assert s.sentiment.scored and s.sentiment.model == models[language], s.post.text
            assert s.sentiment.confidence > 0
