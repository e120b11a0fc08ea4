"""What the watch file's `alerts:` section needs from the environment, checked before a worker starts.

The file is validated when it loads (rules, queries, routes: `schemas.alert_config`), but receivers name their
URLs, signing secrets and routing keys by environment variable or file, so that the watch file holds no
secret. A worker whose receiver cannot be reached that way would find out at its first alert, hours later;
`check_alerting` finds out at start-up, and says which receiver and what is missing.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook

from schemas.alert_config import AlertsConfig
from streams.notify.ssrf import AllowList


class AlertingConfigError(ValueError):
    """One line: `file: alerts.receivers.N (name): problem`."""


def check_alerting(config: AlertsConfig, source: str) -> None:
    """Scenario: a webhook receiver `oncall` with `url_env: LYTTE_ONCALL_URL` unset -> AlertingConfigError(
    "config/watch.yaml: alerts.receivers.0 (oncall): receiver oncall url: environment variable LYTTE_ONCALL_URL
    is not set"); a secret that is not a Standard Webhooks secret (whsec_ + base64) -> "... signing secret 2 of
    2 is not a Standard Webhooks secret (whsec_ and base64)"; all present -> None."""
    try:
        AllowList.parse(config.allow_hosts)
    except ValueError as exc:
        raise AlertingConfigError(f"{source}: alerts.allow_hosts: {exc}") from None
    for i, receiver in enumerate(config.receivers):
        where = f"{source}: alerts.receivers.{i} ({receiver.name})"
        try:
            url = receiver.resolved_url()
            secrets = receiver.secrets()
            if receiver.type == "pagerduty":
                receiver.routing_key()
        except ValueError as exc:
            raise AlertingConfigError(f"{where}: {exc}") from None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AlertingConfigError(f"{where}: the URL must be http(s)://host/... (the value is not shown)")
        for n, secret in enumerate(secrets, 1):
            try:
                Webhook(secret)
            except Exception:
                what = f"signing secret {n} of {len(secrets)}"
                raise AlertingConfigError(
                    f"{where}: {what} is not a Standard Webhooks secret (whsec_ + base64)"
                ) from None
