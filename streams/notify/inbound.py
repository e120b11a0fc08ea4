"""`lytte alerts inbound`: the HTTP endpoint PagerDuty's V3 incident webhooks call, so that an acknowledgement
or a resolution made in PagerDuty becomes an action on `lytte.actions` (and shows on the wall).

One route, `POST /pagerduty`: the raw body is checked against `X-PagerDuty-Signature` with the subscription's
secrets (`LYTTE_PAGERDUTY_WEBHOOK_SECRETS`, space-separated during a rotation) before anything else is read; a
wrong or missing signature is a 401 and nothing is written. A verified event that stands for an action is
written to Kafka before the 2xx (PagerDuty retries what it does not get a 2xx for); one that stands for none
(another event type, an incident lytte did not open) is a 204. Bodies are capped, and the server listens on
loopback unless told otherwise: put it behind the proxy that terminates TLS for PagerDuty.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web

from schemas.alerts import Action
from streams.notify.pagerduty_inbound import to_action, verify

log = logging.getLogger(__name__)

#: PagerDuty's webhook bodies are a few KB
MAX_BODY_BYTES = 256 * 1024
SECRETS_ENV = "LYTTE_PAGERDUTY_WEBHOOK_SECRETS"


def inbound_app(secrets: list[str], write: Callable[[Action], None]) -> web.Application:
    """The aiohttp application; `write` puts an action on the actions topic (blocking; run in a thread)."""

    async def pagerduty(request: web.Request) -> web.Response:
        body = await request.read()
        if not verify(body, request.headers.get("X-PagerDuty-Signature", ""), secrets):
            log.warning("pagerduty webhook refused: the signature does not verify")
            return web.Response(status=401, text="signature does not verify\n")
        action = to_action(body, datetime.now(UTC))
        if action is None:
            return web.Response(status=204)
        await asyncio.to_thread(write, action)
        log.info("pagerduty webhook: %s of %s by %s", action.kind, action.incident, action.by)
        return web.Response(status=202, text=f"{action.kind} {action.incident}\n")

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/pagerduty", pagerduty)
    return app
