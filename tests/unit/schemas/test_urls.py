"""redacted_url: no password of a service URL is ever printed."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.urls import redacted_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://user:s3cret@redis:6379/0", "redis://user:***@redis:6379/0"),
        ("redis://:s3cret@[::1]:6379/0", "redis://:***@[::1]:6379/0"),
        ("rediss://default:s3cret@cache.example.com:6380", "rediss://default:***@cache.example.com:6380"),
        ("redis://s3cret@redis:6379", "redis://***@redis:6379"),
        ("redis://u:p@ss@redis:6379/0", "redis://u:***@redis:6379/0"),  # an unescaped @ in the password
        ("redis://redis:6379/0?password=s3cret&db=1", "redis://redis:6379/0?password=***&db=1"),
        ("unix:///run/redis.sock?db=0&password=s3cret", "unix:///run/redis.sock?db=0&password=***"),
        ("redis://127.0.0.1:6390/0", "redis://127.0.0.1:6390/0"),
        ("redis://redis:6379/0?db=1&socket_timeout=5", "redis://redis:6379/0?db=1&socket_timeout=5"),
        ("redis://u:s3cret@[::1:6379", "<url hidden: cannot parse it>"),
    ],
)
def test_redacted_url(url, shown):
    assert redacted_url(url) == shown


@given(
    user=st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="@:/?#[]%"), max_size=8),
    password=st.text(st.characters(min_codepoint=32, max_codepoint=126, exclude_characters="/?#[]"), min_size=1),
)
def test_no_password_survives(user, password):
    url = f"redis://{user}:{password}@redis.internal:6379/0"
    assert redacted_url(url) == f"redis://{user}:***@redis.internal:6379/0"


def test_http_url_brackets_an_ipv6_host():
    from schemas.urls import http_url

    assert http_url("127.0.0.1", 8050) == "http://127.0.0.1:8050/"
    assert http_url("::1", 8050) == "http://[::1]:8050/"
    assert http_url("localhost", 80, "/healthz") == "http://localhost:80/healthz"
