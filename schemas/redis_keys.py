"""The Redis live view: every key the writers and the dashboard use, defined once.

Layout under a prefix (default `lytte`):

| key | type | holds |
|---|---|---|
| `{p}:watch` | string | the watch configuration the workers run with (JSON) |
| `{p}:brand:{brand}:buckets` | hash | `<epoch>:<raw partition>` -> partial BucketMetrics JSON; newest N minutes |
| `{p}:brand:{brand}:bucket_index` | sorted set | bucket start epochs, to trim the hash to the newest N minutes |
| `{p}:brand:{brand}:latest` | sorted set | latest post JSON scored by created_at; newest M kept |
| `{p}:counters` | hash | `<field>:<partition>` -> int: a `schemas.pipeline.PartitionCounters` per raw partition |
| `{p}:updated` | string | epoch ms of the last write, for staleness |
| `{p}:changes` | pub/sub channel | per written batch and brand: brand, buckets, raw_timestamps_ms, written_ms |
| `{p}:services` | hash | service name -> JSON `streams.local.supervise.record`: state, pid, restarts, ... |

Everything here except `{p}:services` (rewritten by `lytte up` as it goes) is derived from Kafka and can be
rebuilt by replaying the log. A bucket is the merge of its partials (`schemas.records.merge_partials`).
"""

from dataclasses import dataclass


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
    def services(self) -> str:
        return f"{self.prefix}:services"

    def buckets(self, brand: str) -> str:
        return f"{self.prefix}:brand:{brand}:buckets"

    def bucket_index(self, brand: str) -> str:
        return f"{self.prefix}:brand:{brand}:bucket_index"

    def latest(self, brand: str) -> str:
        return f"{self.prefix}:brand:{brand}:latest"
