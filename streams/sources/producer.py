"""Publishing Posts to `posts.raw`, with confluent-kafka (librdkafka).

The source side of the firehose: kafka-python, which lytte keeps for admin and replay reads, spent about
80 µs of CPU per record producing (its accumulator and murmur2 are Python), which at 5,700 posts/s is half
a core of a 2-core machine; librdkafka spends about 2.5 µs (`lytte bench` runs its posts through here).

The partitioner is librdkafka's `murmur2_random`, the Java client's and kafka-python's murmur2 for keyed
records, so every producer of posts.raw puts an author's posts in the same partition. The producer is
idempotent (acks from all replicas, retries without duplicates or reordering); a record whose delivery
still fails (the broker away longer than librdkafka's own 5 minutes of retries) is logged and sent again,
so a source never drops a post it was given.
"""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import KafkaException, Producer

from schemas.records import Post
from schemas.settings import Settings
from schemas.topics import Topic

log = logging.getLogger(__name__)

#: `flush` gives up (raising) when records are still undelivered after this long.
FLUSH_LIMIT_S = 600.0


def post_record(post: Post) -> tuple[bytes, bytes]:
    """The posts.raw record of a post, (key, value): every producer of posts goes through here, so that the
    key (which decides the raw partition: the author, `Post.raw_key`) is chosen in one place."""
    return post.raw_key, post.model_dump_json().encode()


class PostProducer:
    def __init__(self, settings: Settings) -> None:
        self.topic = Topic.POSTS_RAW.name(settings.topic_prefix)
        self._producer = Producer(
            {
                "bootstrap.servers": settings.bootstrap,
                "client.id": "lytte-source",
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "batch.size": 256 * 1024,
                "partitioner": "murmur2_random",
            },
            logger=log,  # librdkafka's own lines (a broker away, ...) through logging instead of raw stderr
        )
        self.sent = 0
        self.failed_deliveries = 0
        self._again: list[tuple] = []  # (key, value, topic, headers) of failed deliveries
        # deliveries are reported in whichever thread polls (a source's own and its report thread)
        self._again_lock = threading.Lock()

    def send(self, post: Post) -> None:
        self.send_raw(*post_record(post))

    def send_raw(self, key: bytes | None, value: bytes) -> None:
        self._produce(key, value)
        self.sent += 1
        self._producer.poll(0)  # serve delivery reports
        self._send_again()

    def send_to(
        self, topic: str, key: bytes | None, value: bytes, headers: list | None = None, *, block: bool = True
    ) -> bool:
        """A record for another topic (a source's deadletters and health reports), with the same delivery care.
        With `block=False` a full queue (the broker away for a while) drops the record instead of waiting: False."""
        if not self._produce(key, value, topic, headers, block):
            return False
        self._producer.poll(0)
        self._send_again()
        return True

    def _produce(self, key: bytes | None, value: bytes, topic: str | None = None, headers=None, block=True) -> bool:
        topic = topic or self.topic
        while True:
            try:
                self._producer.produce(topic, value, key, headers=headers, on_delivery=self._delivered)
                return True
            except BufferError:  # librdkafka's queue is full: serve deliveries until there is room
                if not block:
                    return False
                self._producer.poll(0.05)

    def _delivered(self, error, message) -> None:
        if error is None:
            return
        self.failed_deliveries += 1
        n = self.failed_deliveries
        if n == 1 or n % 1000 == 0:
            log.warning("%s: %d deliveries failed so far (%s); sending them again", self.topic, n, error)
        with self._again_lock:
            self._again.append((message.key(), message.value(), message.topic(), message.headers()))

    def _send_again(self) -> None:
        with self._again_lock:
            again, self._again = self._again, []
        for key, value, topic, headers in again:
            self._produce(key, value, topic, headers)

    def flush(self, limit_s: float = FLUSH_LIMIT_S) -> None:
        """Wait until every record sent so far is delivered (failed ones sent again), at most `limit_s`."""
        deadline = time.monotonic() + limit_s
        while True:
            left = self._producer.flush(min(1.0, max(0.0, deadline - time.monotonic())))
            self._send_again()
            if left == 0 and not self._again:
                return
            if time.monotonic() >= deadline:
                raise KafkaException(f"{self.topic}: {left} records still undelivered after {limit_s:.0f} s")

    def close(self, limit_s: float = FLUSH_LIMIT_S) -> None:
        self.flush(limit_s)

    def __enter__(self) -> PostProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
