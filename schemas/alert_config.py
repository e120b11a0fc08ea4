"""The `alerts:` section of the watch file: which rules run for which brand, who is told, and how.

    alerts:
      rules:
        defaults:                 # every brand and competitor; a rule left out does not run
          volume_spike: {}
          negative_surge: {}
          key_person: {min_followers: 100000}
          viral: {}
          share_of_voice: {}
        brands:                   # per brand: settings over the defaults; `false` switches a rule off
          nordair:
            keyword: {query: 'recall OR lawsuit OR "food poisoning"'}
            volume_spike: {min_count: 10}
      receivers:
        - {name: oncall, type: webhook, url_env: LYTTE_ONCALL_URL, secret_env: LYTTE_ONCALL_SECRET}
        - {name: social, type: slack, url_env: LYTTE_SLACK_URL}
        - {name: pager, type: pagerduty, routing_key_env: LYTTE_PD_KEY}
      route:                      # Alertmanager's routing tree
        receiver: oncall
        group_by: [brand]
        routes:
          - {matchers: ["severity=critical"], receiver: pager, continue: true}
      inhibit:
        - {source_matchers: ["alertname=negative_surge"], target_matchers: ["alertname=volume_spike"], equal: [brand]}
      allow_hosts: []             # outbound hosts allowed although private or loopback (SSRF guard)

Every rule's settings are checked at start-up: an unknown rule, an unknown setting, a threshold out of range or
a route to an unknown receiver stops `load_watch_config` with the file, the line and the path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from schemas.alerts import Matcher, Severity


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- rules ---------------------------------------------------------------------------------------------------


class VolumeSpike(_Model):
    """Posts in the last `window_minutes` against what this brand has at that time of day (see
    `streams.alerts.spike` and, for the statistics, `streams.alerts.baseline`).

    The defaults ship for every brand, quiet or busy. Chosen on synthetic 9-day series with a 3x-10x day/night
    rhythm (no false alert in 1,296 days at 1-100 posts/min; 2 in 648 days at 0.1-0.3, Poisson tails) and nine
    days of real airline tweets (alerts at the storm and viral moments). The score is in standard deviations on
    a variance-stabilised scale: Poisson at low counts, about ln(window / baseline) / 0.1 at high counts.
    `threshold` 4: a normal 4-sigma tail (3e-5), reached by 30 posts in 10 minutes against 10. `ratio` 2: a
    busy brand's 1.5x is significant but no spike, and a brand-new baseline lags the morning rise by up to
    ~1.5x. `min_count` 10: 8 posts against 0.3 score 4.1, but should page no one. `window_minutes` 10: longer
    windows caught more slow drifts than events in the airline data. `warmup_minutes` 180: three hours of a
    level that averages the last hour."""

    window_minutes: int = Field(default=10, ge=1, le=240)
    threshold: float = Field(
        default=4.0, gt=0, description="score (standard deviations, variance-stabilised) at which it fires"
    )
    ratio: float = Field(default=2.0, ge=1, description="and the window holds at least this many times the baseline")
    min_count: int = Field(default=10, ge=1, description="and at least this many posts")
    warmup_minutes: int = Field(default=180, ge=0, description="history needed before it may fire")
    resolve_threshold: float = Field(default=2.0, ge=0, description="score under which the spike is over")
    resolve_minutes: int = Field(default=10, ge=1, description="... for this many minutes in a row")
    severity: Severity = Severity.WARNING

    @model_validator(mode="after")
    def _hysteresis(self) -> VolumeSpike:
        if self.resolve_threshold >= self.threshold:
            raise ValueError("resolve_threshold must be below threshold (otherwise the alert flaps)")
        return self


class NegativeSurge(VolumeSpike):
    """Negative posts in the window against the brand's own negative baseline, with a minimum negative share.

    The same statistics and defaults as `VolumeSpike`, on the negative posts: 10 negative posts in the window at
    least, and `min_share` 0.4 of the window's posts negative (a brand's usual share is 10-30%; a surge of
    praise or of neutral chatter is a volume spike, not this)."""

    min_count: int = Field(default=10, ge=1, description="at least this many negative posts in the window")
    min_share: float = Field(default=0.4, ge=0, le=1, description="and at least this share of the window negative")
    severity: Severity = Severity.CRITICAL


class KeyPerson(_Model):
    """A post about the brand by a key person of the watch list, or by an author with `min_followers`."""

    min_followers: int | None = Field(default=None, ge=1, description="unset: key people only")
    only_negative: bool = False
    quiet_minutes: int = Field(default=60, ge=1, description="resolved after this long without another such post")
    severity: Severity = Severity.WARNING


class Keyword(_Model):
    """Posts about the brand matching a boolean query: AND, OR, NOT, parentheses, "quoted phrases"."""

    query: str = Field(min_length=1)
    min_posts: int = Field(default=1, ge=1, description="matching posts within quiet_minutes needed to fire")
    quiet_minutes: int = Field(default=30, ge=1)
    severity: Severity = Severity.WARNING

    @field_validator("query")
    @classmethod
    def _parses(cls, v: str) -> str:
        from streams.alerts.query import parse_query  # the grammar lives with the rules

        parse_query(v)  # raises ValueError with the position of the problem
        return v


class Viral(_Model):
    """One post reposted and quoted at least `min_shares` times within `window_minutes`."""

    min_shares: int = Field(default=50, ge=2)
    window_minutes: int = Field(default=10, ge=1, le=240)
    quiet_minutes: int = Field(default=30, ge=1)
    severity: Severity = Severity.WARNING


class ShareOfVoice(_Model):
    """The brand's share of the posts about it and its competitors, against its usual share (see
    `streams.alerts.spike.observe_share`).

    The usual share is learned over about six hours (a day while the alert fires), so a competitor's crisis of an
    hour or two stands out and a lasting change is absorbed within a day. A move must be `delta` (0.2: 0.5 -> 0.3)
    and `threshold` binomial standard deviations (4: at 50 posts and a share of 0.5 a move of 0.2 is 2.8, noise;
    at 200 posts it is 5.7), over an hour (`window_minutes`), since shares of a few posts swing wildly."""

    window_minutes: int = Field(default=60, ge=5, le=24 * 60)
    min_posts: int = Field(default=50, ge=1, description="posts of brand and competitors in the window")
    delta: float = Field(default=0.2, gt=0, lt=1, description="fires when the share moves this far (either way)")
    threshold: float = Field(default=4.0, gt=0, description="and by this many binomial standard deviations")
    warmup_minutes: int = Field(default=360, ge=0)
    resolve_minutes: int = Field(
        default=30, ge=1, description="resolved after this long with the share within delta / 2 of the usual one"
    )
    severity: Severity = Severity.INFO


RULE_TYPES: dict[str, type[_Model]] = {
    "volume_spike": VolumeSpike,
    "negative_surge": NegativeSurge,
    "key_person": KeyPerson,
    "keyword": Keyword,
    "viral": Viral,
    "share_of_voice": ShareOfVoice,
}


class RuleSet(_Model):
    """Rules by name; `false` (or leaving a rule out) means it does not run. An unknown name is refused."""

    volume_spike: VolumeSpike | Literal[False] | None = None
    negative_surge: NegativeSurge | Literal[False] | None = None
    key_person: KeyPerson | Literal[False] | None = None
    keyword: Keyword | Literal[False] | None = None
    viral: Viral | Literal[False] | None = None
    share_of_voice: ShareOfVoice | Literal[False] | None = None


_SHIPPED = RuleSet(volume_spike=VolumeSpike(), negative_surge=NegativeSurge(), key_person=KeyPerson(), viral=Viral())


class Rules(_Model):
    defaults: RuleSet = _SHIPPED
    brands: dict[str, RuleSet] = {}

    @model_validator(mode="after")
    def _merges(self) -> Rules:
        for brand in self.brands:
            try:
                self.for_brand(brand)
            except ValueError as exc:
                raise ValueError(f"brands.{brand}: {exc}") from None
        return self

    def for_brand(self, brand: str) -> dict[str, BaseModel]:
        """The rules that run for one brand, with the settings it names over the defaults.

        Scenario: defaults {volume_spike: {}, viral: {}}, brands {nordair: {volume_spike: {min_count: 10},
        viral: false, keyword: {query: "recall"}}} -> for nordair: volume_spike (min_count 10, the rest
        default) and keyword; for any other brand: volume_spike and viral with the shipped defaults."""
        merged: dict[str, BaseModel] = {}
        override = self.brands.get(brand)
        for name, kind in RULE_TYPES.items():
            base = getattr(self.defaults, name)
            mine = getattr(override, name) if override is not None else None
            if mine is False or (mine is None and not base):
                continue
            if mine is None:
                merged[name] = base
            elif not base:
                merged[name] = mine
            else:
                merged[name] = kind.model_validate(
                    {**base.model_dump(exclude_unset=True), **mine.model_dump(exclude_unset=True)}
                )
        return merged


# ---- receivers and routes ------------------------------------------------------------------------------------


def _secret_from(env: str | None, file: Path | None, what: str) -> SecretStr | None:
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ValueError(f"{what}: environment variable {env} is not set")
        return SecretStr(value.strip())
    if file:
        try:
            return SecretStr(Path(file).read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise ValueError(f"{what}: cannot read {file}: {exc.strerror}") from None
    return None


class Receiver(_Model):
    """Where notifications go. URLs and secrets come from the environment (`*_env`) or a file (`*_file`), never
    from the watch file itself, so that the file can be committed; `url` is allowed for URLs without secrets."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    type: Literal["webhook", "slack", "pagerduty"]
    url: str | None = Field(default=None, pattern=r"^https?://")
    url_env: str | None = None
    url_file: Path | None = None
    #: Standard Webhooks secrets (whsec_...): several during a rotation, separated by spaces
    secret_env: str | None = None
    secret_file: Path | None = None
    #: PagerDuty Events v2 integration key
    routing_key_env: str | None = None
    routing_key_file: Path | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=60)
    max_alerts: int = Field(default=20, ge=1, description="alerts per message; the rest are counted as truncated")

    @model_validator(mode="after")
    def _where(self) -> Receiver:
        if self.type == "pagerduty":
            if not (self.routing_key_env or self.routing_key_file):
                raise ValueError("a pagerduty receiver needs routing_key_env or routing_key_file")
        elif sum(x is not None for x in (self.url, self.url_env, self.url_file)) != 1:
            raise ValueError("give exactly one of url, url_env, url_file")
        return self

    def resolved_url(self) -> str:
        """The receiver's URL (PagerDuty: the Events v2 endpoint unless a url is given)."""
        if self.type == "pagerduty" and not (self.url or self.url_env or self.url_file):
            return "https://events.pagerduty.com/v2/enqueue"
        if self.url:
            return self.url
        secret = _secret_from(self.url_env, self.url_file, f"receiver {self.name} url")
        return secret.get_secret_value() if secret else ""

    def secrets(self) -> list[str]:
        """The signing secrets, newest first."""
        secret = _secret_from(self.secret_env, self.secret_file, f"receiver {self.name} secret")
        return secret.get_secret_value().split() if secret else []

    def routing_key(self) -> str:
        secret = _secret_from(self.routing_key_env, self.routing_key_file, f"receiver {self.name} routing key")
        return secret.get_secret_value() if secret else ""


Seconds = Annotated[float, Field(ge=0)]


class Route(_Model):
    """A node of the routing tree (Alertmanager semantics): an alert goes down the first child whose matchers
    all match (every matching child with `continue: true`), else stays at this node. Unset settings are
    inherited from the parent."""

    receiver: str | None = None
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] | None = None
    group_wait_s: Seconds | None = None
    group_interval_s: Seconds | None = None
    repeat_interval_s: Seconds | None = None
    continue_: bool = Field(default=False, alias="continue")
    routes: tuple[Route, ...] = ()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("matchers", mode="before")
    @classmethod
    def _matchers(cls, v):
        return tuple(Matcher.parse(m) if isinstance(m, str) else m for m in v)

    def receivers(self) -> set[str]:
        named = {self.receiver} if self.receiver else set()
        return named.union(*(r.receivers() for r in self.routes))


#: Alertmanager's defaults, but a 30 s group wait: a brand's first minutes of a crisis matter more than an
#: extra message, and the alert latency goal (p99 2 s) is measured with group_wait 0.
ROOT_DEFAULTS = {"group_by": ("brand",), "group_wait_s": 30.0, "group_interval_s": 300.0, "repeat_interval_s": 14400.0}


class InhibitRule(_Model):
    """While an alert matching `source_matchers` fires, alerts matching `target_matchers` with the same values
    of the `equal` labels are not notified."""

    source_matchers: tuple[Matcher, ...] = Field(min_length=1)
    target_matchers: tuple[Matcher, ...] = Field(min_length=1)
    equal: tuple[str, ...] = ("brand",)

    @field_validator("source_matchers", "target_matchers", mode="before")
    @classmethod
    def _matchers(cls, v):
        return tuple(Matcher.parse(m) if isinstance(m, str) else m for m in v)


class AlertsConfig(_Model):
    rules: Rules = Rules()
    receivers: tuple[Receiver, ...] = ()
    route: Route | None = None
    inhibit: tuple[InhibitRule, ...] = (
        InhibitRule(
            source_matchers=(Matcher(name="alertname", value="negative_surge"),),
            target_matchers=(Matcher(name="alertname", value="volume_spike"),),
        ),
    )
    #: how long a brand stays quiet (event time) after its last alert resolved before its incident closes: half
    #: an hour, so that a story that flares up again (a viral post's second wave) stays one incident
    incident_close_minutes: int = Field(default=30, ge=0)
    #: hosts (names or addresses) that outbound webhooks may reach although they are private or loopback
    allow_hosts: tuple[str, ...] = ()
    #: the wall's address, for links in notifications
    external_url: str = Field(default="http://127.0.0.1:8050", pattern=r"^https?://")

    @model_validator(mode="after")
    def _routes(self) -> AlertsConfig:
        names = [r.name for r in self.receivers]
        if len(set(names)) != len(names):
            raise ValueError("receiver names must be unique")
        if self.route is not None:
            unknown = sorted(self.route.receivers() - set(names))
            if unknown:
                raise ValueError(f"route to unknown receiver {unknown[0]!r} (receivers: {', '.join(names) or 'none'})")
            if self.route.receiver is None:
                raise ValueError("the root route needs a receiver")
        return self
