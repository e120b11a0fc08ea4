"""Settings, read from the environment (prefix `LYTTE_`) or a `.env` file; shared by every process.

Only `LYTTE_*` variables are read. faust reads bare names such as `BROKER_URL`; lytte gives faust an empty
environment so those can never override what is set here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LYTTE_", env_file=".env", extra="ignore", populate_by_name=True)

    # where things live
    kafka_bootstrap: str | None = Field(
        default=None, description="host:port of an existing Kafka; unset: `lytte up` starts a local broker"
    )
    redis_url: str | None = Field(
        default=None, description="redis://host:port/db of an existing Redis; unset: `lytte up` starts one"
    )
    redis_password: SecretStr | None = None
    home: Path = Field(default=Path(".lytte"), description="state of the local broker, Redis, logs")
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "lytte", description="downloaded Kafka jars, shared by checkouts"
    )
    watch_config: Path = Path("config/watch.yaml")

    # Kafka
    topic_prefix: str = Field(default="lytte", pattern=r"^[A-Za-z0-9._-]+$")
    partitions: int = Field(default=4, ge=1, le=256)
    replication_factor: int = Field(default=1, ge=1)
    retention_hours: int = Field(default=168, ge=1)
    app_id: str = Field(default="lytte", pattern=r"^[A-Za-z0-9._-]+$")
    session_timeout_s: float = Field(default=10.0, gt=0)
    commit_interval_s: float = Field(default=1.0, gt=0)

    # local services started by `lytte up`
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_home: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("LYTTE_KAFKA_HOME", "KAFKA_HOME", "kafka_home"),
        description="an unpacked Kafka distribution to run instead of the Maven Central jars",
    )
    redis_port: int = Field(default=6390, description="port of the embedded Redis (not 6379, often taken)")

    # processing
    max_text_chars: int = Field(default=25_000, ge=1)
    max_record_bytes: int = Field(default=256 * 1024, ge=1024)
    max_future_skew_s: int = Field(default=300, ge=0)
    max_post_age_s: int = Field(
        default=2 * 24 * 3600,
        ge=60,
        description="older posts go to the deadletter topic; also how long a post is remembered to count it once",
    )
    top_posts_per_bucket: int = Field(default=3, ge=0)
    adjust_sentiment: bool = Field(
        default=True,
        description="a brand with enough operators' corrections gets its sentiment adjusted by what they taught "
        "(streams.sentiment.adjust); false: the base scorers alone",
    )
    changelog_segment_s: int = Field(
        default=3600,
        ge=10,
        description="the worker's changelog topics roll a segment this often, so that compaction (which only "
        "cleans rolled segments) removes expired entries and start-up recovery reads little more than live state",
    )
    stall_after_s: float = Field(
        default=30.0, gt=0, description="records waiting and nothing handled this long: the pipeline is stalled"
    )
    stall_restart_s: float = Field(
        default=90.0,
        ge=0,
        description="a worker with records waiting in its partitions and nothing handled this long starts "
        "itself over (see streams.core.watchdog); 0: never",
    )
    busy_limit_s: float = Field(
        default=900.0, gt=0, description="a rebalance or table recovery taking longer than this starts the worker over"
    )

    # Redis live view
    redis_prefix: str = Field(default="lytte", pattern=r"^[A-Za-z0-9._-]+$")
    redis_buckets_kept: int = Field(default=180, ge=1, description="newest one-minute buckets kept per brand")
    redis_day_minutes_kept: int = Field(
        default=1440, ge=60, description="minutes of per-brand counts kept for the wall's day chart"
    )
    redis_posts_kept: int = Field(default=50, ge=1, description="latest posts kept per brand")

    # dashboard
    dashboard_host: str = Field(default="127.0.0.1", description="address the dashboard listens on (loopback)")
    dashboard_port: int = 8050
    dashboard_auth: Literal["off", "password", "proxy", "oidc"] = Field(
        default="off",
        description="who may see the dashboard: off (the demo; the screen says so), password, proxy, oidc",
    )
    dashboard_users_file: Path | None = Field(
        default=None, description="password mode: YAML of users with role and password hash (`lytte users add`)"
    )
    dashboard_secret_key: SecretStr | None = Field(default=None, description="signs session cookies")
    dashboard_secret_key_file: Path | None = Field(default=None, description="a file holding the session key")
    dashboard_cookie_secure: bool = Field(
        default=False, description="always mark the session cookie Secure (TLS ends at a proxy not trusted here)"
    )
    dashboard_proxy_user_header: str = "X-Forwarded-User"
    dashboard_proxy_groups_header: str = "X-Forwarded-Groups"
    dashboard_proxy_trusted: str = Field(
        default="127.0.0.1/32,::1/128", description="proxy mode: comma-separated networks whose headers are believed"
    )
    dashboard_group_roles: str = Field(
        default="lytte-viewer=viewer,lytte-operator=operator,lytte-supervisor=supervisor",
        description="proxy and OIDC modes: group=role pairs; a user gets the highest role of their groups",
    )
    dashboard_oidc_issuer: str | None = None
    dashboard_oidc_client_id: str | None = None
    dashboard_oidc_client_secret: SecretStr | None = None
    dashboard_slow_refresh_s: float = Field(
        default=5.0, gt=0, description="screens redraw at least this often without a push (staleness shows)"
    )
    dashboard_threads: int = Field(default=24, ge=4, description="request threads of the dashboard server")
    dashboard_max_streams: int = Field(
        default=16, ge=1, description="live push streams one dashboard server holds open at most (one per screen)"
    )

    # sources (`lytte ingest <source>`); every secret can also be given as a file: LYTTE_<NAME>_FILE
    source_report_s: float = Field(default=2.0, gt=0, description="how often a source writes its health report")
    x_bearer_token: SecretStr | None = Field(default=None, description="X API v2 app-only bearer token")
    x_bearer_token_file: Path | None = None
    x_api_url: str = Field(default="https://api.x.com", description="X API base URL (a test points it elsewhere)")
    mastodon_base_url: str | None = Field(default=None, description="the Mastodon instance, https://mastodon.social")
    mastodon_access_token: SecretStr | None = Field(default=None, description="a user token with read scope")
    mastodon_access_token_file: Path | None = None
    bluesky_jetstream_url: str = Field(
        default="wss://jetstream2.us-east.bsky.network/subscribe", description="a Bluesky Jetstream instance"
    )
    meta_app_secret: SecretStr | None = Field(default=None, description="signs Meta's webhook deliveries")
    meta_app_secret_file: Path | None = None
    meta_verify_token: SecretStr | None = Field(default=None, description="answers Meta's subscription check")
    meta_verify_token_file: Path | None = None
    ingest_host: str = Field(default="127.0.0.1", description="address the webhook and ingest endpoints listen on")
    meta_port: int = Field(default=8061, description="port of the Meta page webhook endpoint")
    ingest_port: int = Field(default=8062, description="port of the generic ingest endpoint")
    ingest_token: SecretStr | None = Field(default=None, description="bearer token the generic ingest endpoint asks")
    ingest_token_file: Path | None = None

    def secret(self, name: str) -> str | None:
        """A secret setting's value, from `LYTTE_<NAME>` or else the file `LYTTE_<NAME>_FILE` names (stripped);
        None when neither is set. Scenario: LYTTE_X_BEARER_TOKEN_FILE=/run/secrets/x holding "abc\n" ->
        secret("x_bearer_token") == "abc"."""
        value = getattr(self, name)
        if value is not None:
            return value.get_secret_value()
        path = getattr(self, f"{name}_file", None)
        if path is None:
            return None
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"LYTTE_{name.upper()}_FILE: cannot read {path}: {exc.strerror}") from None

    def as_env(self) -> dict[str, str]:
        """These settings as `LYTTE_*` variables, for a child process (secrets included: never log it)."""
        env = {}
        for name, value in self.model_dump(exclude_none=True).items():
            plain = value.get_secret_value() if isinstance(value, SecretStr) else value
            env[f"LYTTE_{name.upper()}"] = str(plain)
        return env

    @property
    def bootstrap(self) -> str:
        """The broker to talk to: the configured one, else the local one `lytte up` starts."""
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"

    @property
    def redis(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.redis_port}/0"
