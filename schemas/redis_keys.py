"""The Redis live view: every key the writers and the dashboard use, defined once.

Layout under a prefix (default `lytte`):

| key | type | holds |
|---|---|---|
| `{p}:watch` | string | the watch configuration the workers run with (JSON) |
| `{p}:brand:{brand}:buckets` | hash | bucket start (epoch seconds) -> BucketMetrics JSON; newest N kept |
| `{p}:brand:{brand}:bucket_index` | sorted set | bucket start epochs, to trim the hash to the newest N |
| `{p}:brand:{brand}:latest` | sorted set | latest post JSON scored by created_at; newest M kept |
| `{p}:counters` | hash | `<counter>:<partition>` -> count; totals are sums over partitions |
| `{p}:updated` | string | epoch ms of the last write, for staleness |
| `{p}:changes` | pub/sub channel | per written batch and brand: brand, buckets, raw_timestamps_ms, written_ms |

Everything here is derived from Kafka and can be rebuilt by replaying the log.
"""

from dataclasses import dataclass

COUNTERS = ("posts_in", "scored", "unmatched", "deadlettered")


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

    def buckets(self, brand: str) -> str:
        return f"{self.prefix}:brand:{brand}:buckets"

    def bucket_index(self, brand: str) -> str:
        return f"{self.prefix}:brand:{brand}:bucket_index"

    def latest(self, brand: str) -> str:
        return f"{self.prefix}:brand:{brand}:latest"


def counter_field(counter: str, partition: int) -> str:
    return f"{counter}:{partition}"


def counter_totals(fields: dict[str, str | bytes | int]) -> dict[str, int]:
    """Sum per-partition counter fields into totals.

    >>> counter_totals({"posts_in:0": "3", "posts_in:1": "4", "scored:0": "2"})
    {'posts_in': 7, 'scored': 2, 'unmatched': 0, 'deadlettered': 0}
    """
    totals = dict.fromkeys(COUNTERS, 0)
    for field, value in fields.items():
        name = (field.decode() if isinstance(field, bytes) else field).rsplit(":", 1)[0]
        if name in totals:
            totals[name] += int(value)
    return totals
