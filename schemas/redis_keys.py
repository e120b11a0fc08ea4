"""The Redis live view: every key the writers and the dashboard use, defined once.

Layout under a prefix (default `lytte`):

| key | type | holds |
|---|---|---|
| `{p}:watch` | string | the watch configuration the workers run with (JSON) |
| `{p}:brand:{brand}:buckets` | hash | `<epoch>:<raw partition>` -> partial BucketMetrics JSON; newest N minutes |
| `{p}:brand:{brand}:bucket_index` | sorted set | bucket start epochs, to trim the hash to the newest N minutes |
| `{p}:versions` | hash | brand -> a token new with every write of its buckets (readers re-read what changed) |
| `{p}:brand:{brand}:day` | hash | `<epoch>:<raw partition>` -> the partial's counts only (`day_counts`); newest day |
| `{p}:brand:{brand}:day_index` | sorted set | minute epochs of the day hash, to trim it |
| `{p}:brand:{brand}:latest` | sorted set | latest post JSON scored by created_at; newest M kept |
| `{p}:counters` | hash | `<field>:<partition>` -> int: a `schemas.pipeline.PartitionCounters` per raw partition |
| `{p}:updated` | string | epoch ms of the last write, for staleness |
| `{p}:changes` | pub/sub channel | per batch and brand (brand, buckets, raw_timestamps_ms) or alert change |
| `{p}:sources` | hash | source name -> `schemas.source_health.SourceReport` JSON, rewritten every few seconds |
| `{p}:source:{name}:cursor` | string | where a source resumes (Jetstream's time_us, Mastodon's last status id) |
| `{p}:services` | hash | service name -> JSON `streams.local.supervise.record`: state, pid, restarts, ... |
| `{p}:alerts:firing` | hash | fingerprint -> firing `schemas.alerts.Alert` JSON (every firing alert, rewritten whole) |
| `{p}:alerts:history` | sorted set | Alert transition JSON scored by event time; newest 500 kept |
| `{p}:incidents` | hash | incident id -> its latest `schemas.alerts.Incident` JSON |
| `{p}:incidents:index` | sorted set | incident ids scored by opening time; newest 100 kept (with their hash fields) |
| `{p}:receivers` | hash | receiver name -> delivery status JSON (queued, disabled, last error) |
| `{p}:acks` | hash | alert fingerprint or incident id -> the `schemas.alerts.Action` that acknowledged it |
| `{p}:acks:index` | sorted set | acknowledged targets scored by the action's time; newest 500 kept |
| `{p}:silences` | hash | silence id -> `schemas.alerts.Silence` JSON (ended by hand: removed; readers check ends_at) |

Everything here except `{p}:services` (rewritten by `lytte up` as it goes) and the sources' cursors is derived
from Kafka and can be rebuilt by replaying the log. A bucket is the merge of its partials
(`schemas.records.merge_partials`).
"""

from dataclasses import dataclass

#: the counts of a partial kept in the day hash, in this order (the bucket's other fields stay in the
#: shorter buckets hash)
DAY_FIELDS = ("posts", "originals", "reposts", "quotes", "replies", "negative", "positive")


@dataclass(frozen=True)
class RedisKeys:
    prefix: str = "lytte"

    @property
    def watch(self) -> str:
        return f"{self.prefix}:watch"

    @property
    def counters(self) -> str:
        return f"{self.prefix}:counters"

    @property
    def updated(self) -> str:
        return f"{self.prefix}:updated"

    @property
    def changes(self) -> str:
        return f"{self.prefix}:changes"

    @property
    def versions(self) -> str:
        return f"{self.prefix}:versions"

    @property
    def sources(self) -> str:
        return f"{self.prefix}:sources"

    def source_cursor(self, source: str) -> str:
        return f"{self.prefix}:source:{source}:cursor"

    @property
    def services(self) -> str:
        return f"{self.prefix}:services"

    @property
    def alerts_firing(self) -> str:
        return f"{self.prefix}:alerts:firing"

    @property
    def alerts_history(self) -> str:
        return f"{self.prefix}:alerts:history"

    @property
    def incidents(self) -> str:
        return f"{self.prefix}:incidents"

    @property
    def incidents_index(self) -> str:
        return f"{self.prefix}:incidents:index"

    @property
    def receivers(self) -> str:
        return f"{self.prefix}:receivers"

    @property
    def acks(self) -> str:
        return f"{self.prefix}:acks"

    @property
    def acks_index(self) -> str:
        return f"{self.prefix}:acks:index"

    @property
    def silences(self) -> str:
        return f"{self.prefix}:silences"

    def buckets(self, brand: str) -> str:
        return f"{self.prefix}:brand:{brand}:buckets"

    def bucket_index(self, brand: str) -> str:
        return f"{self.prefix}:brand:{brand}:bucket_index"

    def day(self, brand: str) -> str:
        return f"{self.prefix}:brand:{brand}:day"

    def day_index(self, brand: str) -> str:
        return f"{self.prefix}:brand:{brand}:day_index"

    def latest(self, brand: str) -> str:
        return f"{self.prefix}:brand:{brand}:latest"
