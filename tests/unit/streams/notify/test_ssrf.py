"""The SSRF guard: which addresses and URLs are refused, with which reason, and that the check holds at connect time.

No test here opens a connection to anything but 127.0.0.1: the refused addresses are checked with fake resolvers
and with the guarded network backend, which refuses before it connects.
"""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import ssl
import subprocess

import httpcore
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.notify.ssrf import (
    AllowList,
    GuardedBackend,
    GuardedTransport,
    Refused,
    check_address,
    check_url,
    checked_addresses,
    refusal_reason,
)

NOBODY = AllowList()
LOOPBACK_ONLY = AllowList.parse(["127.0.0.1"])


def resolver(table: dict[str, list[str]], calls: list[str] | None = None):
    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise OSError(f"{host}: Name or service not known")
        return table[host]

    return resolve


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 10))


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "127.0.0.1 is loopback"),
        ("127.5.6.7", "127.5.6.7 is loopback"),
        ("::1", "::1 is loopback"),
        ("10.0.0.1", "10.0.0.1 is private"),
        ("172.16.3.4", "172.16.3.4 is private"),
        ("192.168.1.1", "192.168.1.1 is private"),
        ("fc00::1", "fc00::1 is private"),
        ("fd12:3456::1", "fd12:3456::1 is private"),
        ("169.254.169.254", "169.254.169.254 is link-local (cloud metadata)"),
        ("169.254.1.1", "169.254.1.1 is link-local"),
        ("fe80::1", "fe80::1 is link-local"),
        ("fd00:ec2::254", "fd00:ec2::254 is private (cloud metadata)"),
        ("0.0.0.0", "0.0.0.0 is unspecified"),
        ("::", ":: is unspecified"),
        ("0.1.2.3", "0.1.2.3 is 'this network' (0.0.0.0/8)"),
        ("100.64.0.1", "100.64.0.1 is shared address space (CGNAT, 100.64.0.0/10)"),
        ("224.0.0.1", "224.0.0.1 is multicast"),
        ("ff02::1", "ff02::1 is multicast"),
        ("240.0.0.1", "240.0.0.1 is reserved"),
        ("192.0.2.10", "192.0.2.10 is not globally routable"),
        ("198.18.0.1", "198.18.0.1 is not globally routable"),
        ("fec0::1", "fec0::1 is site-local"),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1 is IPv4-mapped 127.0.0.1, which is loopback"),
        (
            "::ffff:169.254.169.254",
            "::ffff:169.254.169.254 is IPv4-mapped 169.254.169.254, which is link-local (cloud metadata)",
        ),
        ("64:ff9b::a00:1", "64:ff9b::a00:1 is NAT64 10.0.0.1, which is private"),
        ("2002:7f00:1::", "2002:7f00:1:: is 6to4 127.0.0.1, which is loopback"),
    ],
)
def test_refused_addresses_say_which_and_why(address, reason):
    with pytest.raises(Refused) as refused:
        check_address(address, NOBODY)
    assert str(refused.value) == reason
    assert refused.value.address


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.216.34"])
def test_public_addresses_pass(address):
    assert check_address(address, NOBODY) is None
    assert refusal_reason(ipaddress.ip_address(address)) is None


def test_allowlist_of_addresses_networks_and_names():
    allow = AllowList.parse(["127.0.0.1", "[::1]", "10.1.0.0/16", "Hooks.Internal."])
    assert allow.names == frozenset({"hooks.internal"})
    check_address("127.0.0.1", allow)
    check_address("::1", allow)
    check_address("10.1.200.3", allow)
    check_address("::ffff:127.0.0.1", allow)  # the mapped form of an allowed address is that address
    with pytest.raises(Refused, match=r"10\.2\.0\.1 is private"):
        check_address("10.2.0.1", allow)
    with pytest.raises(Refused, match=r"127\.0\.0\.2 is loopback"):
        check_address("127.0.0.2", allow)
    with pytest.raises(ValueError, match="empty"):
        AllowList.parse([" "])


@given(st.ip_addresses(v=4, network="127.0.0.0/8") | st.ip_addresses(v=4, network="10.0.0.0/8"))
def test_every_loopback_and_private_v4_address_is_refused_also_when_mapped(address):
    with pytest.raises(Refused):
        check_address(address, NOBODY)
    with pytest.raises(Refused):
        check_address(f"::ffff:{address}", NOBODY)


@given(st.ip_addresses(v=6, network="fe80::/10") | st.ip_addresses(v=6, network="fc00::/7"))
def test_every_link_local_and_unique_local_v6_address_is_refused(address):
    with pytest.raises(Refused):
        check_address(address, NOBODY)


def test_urls_with_refused_addresses():
    async def cases():
        no_dns = resolver({})
        for url, reason in [
            ("http://127.0.0.1:8080/hook", "127.0.0.1 is loopback"),
            ("http://10.0.0.1/hook", "10.0.0.1 is private"),
            ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is link-local (cloud metadata)"),
            ("http://[::1]:9000/", "::1 is loopback"),
            ("http://[::ffff:127.0.0.1]/", "IPv4-mapped 127.0.0.1, which is loopback"),
            ("http://[fd00:ec2::254]/", "fd00:ec2::254 is private (cloud metadata)"),
            ("file:///etc/passwd", "scheme 'file' is not allowed: http or https only"),
            ("gopher://10.0.0.1:6379/_INFO", "scheme 'gopher' is not allowed"),
        ]:
            with pytest.raises(Refused) as refused:
                await check_url(url, NOBODY, no_dns)
            assert reason in str(refused.value), url

    run(cases())


def test_a_name_is_refused_when_any_address_it_resolves_to_is_refused():
    async def cases():
        table = {
            "localhost": ["127.0.0.1", "::1"],
            "mixed.example": ["93.184.216.34", "10.0.0.7"],
            "public.example": ["93.184.216.34", "2606:2800:220:1::"],
        }
        with pytest.raises(Refused, match=r"^localhost resolves to ::1, which is loopback$"):
            await check_url("http://localhost:8080/", LOOPBACK_ONLY, resolver(table))
        with pytest.raises(Refused, match=r"^mixed.example resolves to 10.0.0.7, which is private$"):
            await check_url("https://mixed.example/hook", NOBODY, resolver(table))
        assert await check_url("https://public.example/hook", NOBODY, resolver(table)) is None
        # an allowed name is reached wherever it resolves
        assert await check_url("http://localhost:8080/", AllowList.parse(["localhost"]), resolver(table)) is None
        # an allowed address lets any name that resolves only to it through
        table["only-v4"] = ["127.0.0.1"]
        assert await check_url("http://only-v4/", LOOPBACK_ONLY, resolver(table)) is None
        with pytest.raises(OSError, match="not known"):  # not resolving is transient, not a refusal
            await check_url("http://nowhere.example/", NOBODY, resolver(table))

    run(cases())


def test_localhost_through_the_system_resolver_is_refused():
    # /etc/hosts answers for localhost: no DNS traffic
    with pytest.raises(Refused, match=r"^localhost resolves to (127\.0\.0\.1|::1), which is loopback$"):
        run(check_url("http://localhost:1/", NOBODY))


def test_the_backend_resolves_and_checks_at_connect_time():
    """DNS rebinding: a name that resolved to a public address when the URL was checked resolves to 10.0.0.1 when
    the connection is made; the backend refuses before connecting."""

    async def case():
        answers = iter([["93.184.216.34"], ["10.0.0.1"]])
        calls: list[str] = []

        async def rebinding(host: str, port: int) -> list[str]:
            calls.append(host)
            return next(answers)

        await check_url("http://rebind.example/", NOBODY, rebinding)
        backend = GuardedBackend(NOBODY, rebinding)
        with pytest.raises(Refused, match=r"rebind\.example resolves to 10\.0\.0\.1, which is private"):
            await backend.connect_tcp("rebind.example", 80, timeout=1)
        assert calls == ["rebind.example", "rebind.example"]
        with pytest.raises(Refused, match="unix sockets"):
            await backend.connect_unix_socket("/var/run/docker.sock")
        with pytest.raises(httpcore.ConnectError, match="cannot resolve"):
            await GuardedBackend(NOBODY, resolver({})).connect_tcp("nowhere.example", 80)

    run(case())


def test_the_transport_connects_only_to_checked_addresses_keeping_the_host_header():
    """A real request through the guarded transport: the name resolves (fake resolver) to 127.0.0.1, which the
    allowlist permits; the server sees the name in the Host header. Without the allowlist the same request is
    refused before any connection."""

    async def case():
        seen: list[bytes] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            seen.append(head)
            writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        resolve = resolver({"hooks.test": ["127.0.0.1"]})
        try:
            async with httpx.AsyncClient(transport=GuardedTransport(LOOPBACK_ONLY, resolve=resolve)) as client:
                response = await client.post(f"http://hooks.test:{port}/x", content=b"{}")
            assert response.status_code == 204
            assert f"host: hooks.test:{port}".encode() in seen[0].lower()
            async with httpx.AsyncClient(transport=GuardedTransport(NOBODY, resolve=resolve)) as client:
                with pytest.raises(Refused, match=r"hooks\.test resolves to 127\.0\.0\.1, which is loopback"):
                    await client.post(f"http://hooks.test:{port}/x", content=b"{}")
            assert len(seen) == 1
        finally:
            server.close()
            await server.wait_closed()

    run(case())


def test_checked_addresses_returns_what_the_connection_may_use():
    table = {"two.example": ["93.184.216.34", "93.184.216.35"]}
    assert run(checked_addresses("two.example", 443, NOBODY, resolver(table))) == ["93.184.216.34", "93.184.216.35"]
    assert run(checked_addresses("93.184.216.34", 443, NOBODY, resolver({}))) == ["93.184.216.34"]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_https_checks_the_certificate_against_the_name_while_connecting_to_the_checked_address(tmp_path):
    """TLS through the guarded backend: the connection goes to 127.0.0.1 (the checked address), the TLS server name
    (SNI) and the certificate check use the URL's name, hooks.test."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=hooks.test",
            "-addext",
            "subjectAltName=DNS:hooks.test",
        ],
        check=True,
        capture_output=True,
    )

    async def case():
        names: list[str | None] = []
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(cert, key)
        server_tls.sni_callback = lambda sock, name, ctx: names.append(name)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_tls)
        port = server.sockets[0].getsockname()[1]
        client_tls = ssl.create_default_context(cafile=str(cert))
        resolve = resolver({"hooks.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
        try:
            transport = GuardedTransport(LOOPBACK_ONLY, resolve=resolve, verify=client_tls)
            async with httpx.AsyncClient(transport=transport) as client:
                assert (await client.post(f"https://hooks.test:{port}/x", content=b"{}")).status_code == 200
                with pytest.raises(httpx.ConnectError, match="certificate"):  # the name is checked, not the IP
                    await client.post(f"https://other.test:{port}/x", content=b"{}")
        finally:
            server.close()
            await server.wait_closed()
        assert names[0] == "hooks.test"

    run(case())
