"""Every live source end to end: `lytte ingest <source>` against its fake provider, a real worker, posts.scored and
the Redis view; and the wall in real Chromium showing each source's state, turning from live to no data when its
provider goes away."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from schemas.records import ScoredPost
from schemas.redis_keys import RedisKeys
from schemas.settings import Settings
from schemas.topics import Topic
from streams.local.processes import free_port, port_open
from tests.fakes.jetstream import FakeJetstream, post_event
from tests.fakes.mastodon import FakeMastodon, make_status
from tests.fakes.meta import MetaSender, delivery, feed_change
from tests.fakes.x import FakeX, post_payload, user
from tests.fixtures.browser import console_errors, screenshot
from tests.fixtures.workers import read_topic, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

X_TOKEN = "e2e-bearer-AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA"
MASTODON_TOKEN = "e2e-mastodon-token-0123456789"
META_SECRET, META_VERIFY = "e2e-meta-app-secret-9f8e7d6c", "e2e-meta-verify-1a2b3c4d"
INGEST_TOKEN = "e2e-ingest-token-5e6f7a8b9c0d"
SOURCES = ("bluesky", "http", "mastodon", "meta", "x")


def listening(port: int) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0).status_code == 200
    return False


def source_states(driver) -> dict[str, str]:
    """The wall header's sources, read in one script call (the header redraws while we look)."""
    return driver.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('[data-source]')]"
        ".map(e => [e.dataset.source, e.dataset.state]));"
    )


def scored_by_source(settings: Settings) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for record in read_topic(settings, Topic.POSTS_SCORED.name(settings.topic_prefix)):
        scored = ScoredPost.model_validate_json(record.value)
        out.setdefault(scored.post.source.value, set()).add(scored.brand)
    return out


def test_every_source_reaches_the_view_and_the_wall_shows_a_provider_going_away(
    services_settings: Settings, spawn, chrome, redis_client
):
    now = datetime.now(UTC)
    with FakeX(X_TOKEN, keepalive_s=0.5) as x, FakeMastodon(token=MASTODON_TOKEN, heartbeat_s=0.5) as mastodon:
        jetstream, jetstream_open = FakeJetstream(), True
        try:
            meta_port, ingest_port = free_port(), free_port()
            settings = services_settings.model_copy(
                update={
                    "dashboard_port": free_port(),
                    "dashboard_slow_refresh_s": 1.0,
                    "source_report_s": 0.5,
                    "x_api_url": x.url,
                    "x_bearer_token": SecretStr(X_TOKEN),
                    "mastodon_base_url": mastodon.base_url,
                    "mastodon_access_token": SecretStr(MASTODON_TOKEN),
                    "bluesky_jetstream_url": jetstream.url,
                    "meta_port": meta_port,
                    "meta_app_secret": SecretStr(META_SECRET),
                    "meta_verify_token": SecretStr(META_VERIFY),
                    "ingest_port": ingest_port,
                    "ingest_token": SecretStr(INGEST_TOKEN),
                }
            )
            worker = spawn(settings, "worker")
            dashboard = spawn(settings, "dashboard", name="dashboard")
            children = {name: spawn(settings, "ingest", name, name=name) for name in SOURCES}
            wait_until(lambda: listening(meta_port) and listening(ingest_port), 60, "the webhook endpoints")
            wait_until(lambda: len(mastodon.open_streams()) >= 1, 60, "mastodon's streams", children["mastodon"])
            wait_until(lambda: jetstream.connections, 60, "bluesky's connection", children["bluesky"])

            # one post about nordair from each network
            x.push(
                post_payload(
                    "9001",
                    "Nordair lost my bag again",
                    user("11", "ada", followers=900),
                    created_at=now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                )
            )
            mastodon.publish(make_status(mastodon.next_id(), "<p>Nordair lost my bag #nordair</p>", tags=("nordair",)))
            jetstream.publish(post_event("did:plc:tom", "3e2e0001", "Nordair flight delayed again", langs=["en"]))
            sender = MetaSender(f"http://127.0.0.1:{meta_port}/meta", META_SECRET, META_VERIFY)
            answer = sender.deliver(
                delivery("1048576", feed_change("status", post_id="1048576_77", message="Nordair, where is my refund?"))
            )
            sender.close()
            assert answer.status_code == 200
            body = json.dumps(
                {
                    "source": "other",
                    "source_id": "tool-1",
                    "created_at": now.isoformat(),
                    "text": "Nordair cancelled my flight",
                    "author": {"id": "t1", "handle": "tool"},
                }
            )
            answer = httpx.post(
                f"http://127.0.0.1:{ingest_port}/v1/posts",
                content=body,
                timeout=15,
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {INGEST_TOKEN}"},
            )
            assert answer.status_code == 200, answer.text

            expected = {"x", "mastodon", "bluesky", "meta", "other"}
            wait_until(
                lambda: expected <= set(scored_by_source(settings)), 90, "a scored post from every source", worker
            )
            assert all("nordair" in brands for brands in scored_by_source(settings).values())
            latest = redis_client.zrange(RedisKeys(settings.redis_prefix).latest("nordair"), 0, -1)
            in_view = {json.loads(raw)["id"].split(":")[0] for raw in latest}  # "<source>:<id>"
            assert expected <= in_view, in_view

            wait_until(lambda: port_open("127.0.0.1", settings.dashboard_port), 30, "the dashboard", dashboard)
            chrome.get(f"http://127.0.0.1:{settings.dashboard_port}/?kiosk=1")
            wait_until(lambda: source_states(chrome).get("bluesky") == "live", 60, "bluesky live on the wall")
            states = source_states(chrome)
            assert {states.get(s) for s in SOURCES} == {"live"}, states
            screenshot(chrome, "sources-live")

            jetstream.close()  # Bluesky's provider goes away
            jetstream_open = False
            began = time.monotonic()
            wait_until(
                lambda: source_states(chrome).get("bluesky") == "no_data",
                30,
                "bluesky: no data on the wall",
                children["bluesky"],
            )
            turned_s = time.monotonic() - began
            banner = chrome.execute_script("return document.querySelector('.banner').innerText")
            assert banner.startswith("BLUESKY: NO DATA FOR"), banner
            assert source_states(chrome)["x"] == "live"
            screenshot(chrome, "sources-bluesky-down")
            assert turned_s < 30
            assert console_errors(chrome) == []
        finally:
            if jetstream_open:
                jetstream.close()
