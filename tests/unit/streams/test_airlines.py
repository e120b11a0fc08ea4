"""The airline watch configuration on the real public tweets (read from ../shared/data, never copied)."""

import pytest

from schemas.watch import load_watch_config
from streams.core.matching import Matcher
from streams.sources.replay import read_csv
from tests.fixtures.factories import AIRLINE_TWEETS, REPO

pytestmark = pytest.mark.skipif(not AIRLINE_TWEETS.exists(), reason="../shared/data/airline/Tweets.csv is absent")


def test_almost_every_airline_tweet_matches_its_airline():
    matcher = Matcher(load_watch_config(REPO / "config" / "airlines.yaml"))
    posts = list(read_csv(AIRLINE_TWEETS))
    matched = [p for p in posts if matcher.brands(p.text)]
    assert len(matched) / len(posts) > 0.97
    brands = {m.brand for p in posts[:200] for m in matcher.brands(p.text)}
    assert "virginamerica" in brands
