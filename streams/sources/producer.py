"""Publishing Posts to `posts.raw` with kafka-python."""

from __future__ import annotations

from kafka import KafkaProducer

from schemas.records import Post
from schemas.settings import Settings
from schemas.topics import Topic


def post_record(post: Post) -> tuple[bytes, bytes]:
    """The posts.raw record of a post, (key, value): every producer of posts goes through here, so that the
    key (which decides the raw partition: the author, `Post.raw_key`) is chosen in one place."""
    return post.raw_key, post.model_dump_json().encode()


class PostProducer:
    def __init__(self, settings: Settings) -> None:
        self.topic = Topic.POSTS_RAW.name(settings.topic_prefix)
        self._producer = KafkaProducer(
            bootstrap_servers=settings.bootstrap,
            client_id="lytte-source",
            acks="all",
            linger_ms=5,
            batch_size=256 * 1024,
            compression_type=None,
        )
        self.sent = 0

    def send(self, post: Post) -> None:
        self.send_raw(*post_record(post))

    def send_raw(self, key: bytes | None, value: bytes) -> None:
        self._producer.send(self.topic, key=key, value=value)
        self.sent += 1

    def flush(self) -> None:
        self._producer.flush()

    def close(self) -> None:
        self._producer.flush()
        self._producer.close()

    def __enter__(self) -> PostProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
