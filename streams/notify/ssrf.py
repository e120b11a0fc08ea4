"""The SSRF guard of outbound webhooks: lytte only talks to public addresses, unless the configuration says otherwise.

A webhook URL comes from configuration, and a redirect `Location` from the receiver, so both can point lytte at
its own network: the cloud metadata service (169.254.169.254), a database on 10.0.0.5, the Redis on 127.0.0.1.
The guard refuses, for every address a host name resolves to (A and AAAA), and again at connect time:

- loopback (127.0.0.0/8, ::1), private (RFC 1918, fc00::/7), link-local (169.254.0.0/16, fe80::/10, with the
  metadata addresses 169.254.169.254, 169.254.170.2, fd00:ec2::254 named as such), unspecified (0.0.0.0, ::),
  multicast, reserved, 0.0.0.0/8, shared address space 100.64.0.0/10 (CGNAT), site-local fec0::/10, and
  anything else that is not globally routable (documentation and benchmark ranges);
- IPv4 addresses hidden in IPv6 ones (IPv4-mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged
  by the IPv4 address inside.

`AlertsConfig.allow_hosts` lets some through (tests reach 127.0.0.1 that way; a company may run its receiver on
10.1.2.3): an entry is a host name (`hooks.internal`, matched exactly, case-insensitive), an address (`127.0.0.1`,
`::1`) or a network (`10.1.0.0/16`). An allowed name is reached at whatever it resolves to; an allowed address or
network is reached under any name that resolves into it.

DNS rebinding (a name that resolves to a public address when checked and to 127.0.0.1 when connected) is closed by
`GuardedTransport`: its network backend resolves the name itself, checks every address, and connects to an address
that passed, while the Host header and the TLS server name stay the name from the URL.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
import typing
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: resolve(host, port) -> the addresses (as strings) a connection to host:port may use
Resolver = Callable[[str, int], Awaitable[list[str]]]

#: cloud metadata services: AWS/GCP/Azure/OpenStack, AWS ECS task metadata, AWS IPv6 (Nitro), Alibaba
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_SHARED_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
#: private in the everyday sense: RFC 1918 and IPv6 unique local addresses
_PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))


class Refused(Exception):
    """An outbound address or URL the guard does not allow; the message says which and why, e.g.
    "169.254.169.254 is link-local (cloud metadata)" or "localhost resolves to 127.0.0.1, which is loopback"."""

    def __init__(self, message: str, *, host: str = "", address: str = "") -> None:
        super().__init__(message)
        self.host = host
        self.address = address


@dataclass(frozen=True)
class AllowList:
    """Host names and networks that outbound webhooks may reach although the guard would refuse them.

    >>> allow = AllowList.parse(["127.0.0.1", "Hooks.Internal.", "10.1.0.0/16"])
    >>> allow.allows_name("hooks.internal"), allow.allows_address("10.1.2.3"), allow.allows_address("10.2.0.1")
    (True, True, False)
    """

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """`AlertsConfig.allow_hosts` -> an AllowList: "127.0.0.1" and "[::1]" become /32 and /128 networks,
        "10.0.0.0/8" a network, anything else a host name (lower case, without a trailing dot). An empty entry
        raises ValueError."""
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                raise ValueError("allow_hosts: empty entry")
            literal = entry[1:-1] if entry.startswith("[") and entry.endswith("]") else entry
            try:
                networks.append(ipaddress.ip_network(literal, strict=False))
            except ValueError:
                names.add(_normal_name(entry))
        return cls(frozenset(names), tuple(networks))

    def allows_name(self, host: str) -> bool:
        return _normal_name(host) in self.names

    def allows_address(self, ip: str | IPAddress) -> bool:
        """An address is allowed when it, or the IPv4 address embedded in it, lies in an allowed network."""
        candidates = _forms(_as_ip(ip))
        return any(c in net for c in candidates for net in self.networks if c.version == net.version)


def _normal_name(host: str) -> str:
    return host.strip().rstrip(".").lower()


def _as_ip(ip: str | IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return ip
    text = ip.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")


def _embedded_v4(ip: IPAddress) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries, and how: ::ffff:127.0.0.1 -> (127.0.0.1, "IPv4-mapped")."""
    if ip.version != 6:
        return None
    assert isinstance(ip, ipaddress.IPv6Address)
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, "IPv4-mapped"
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
    if ip.sixtofour is not None:
        return ip.sixtofour, "6to4"
    return None


def _forms(ip: IPAddress) -> list[IPAddress]:
    embedded = _embedded_v4(ip)
    return [ip] if embedded is None else [ip, embedded[0]]


def refusal_reason(ip: IPAddress) -> str | None:
    """Why an address is refused, or None for a public one.

    Scenario: 169.254.169.254 -> "link-local (cloud metadata)"; 10.0.0.1 -> "private"; ::ffff:127.0.0.1 ->
    "IPv4-mapped 127.0.0.1, which is loopback"; 100.64.0.1 -> "shared address space (CGNAT, 100.64.0.0/10)";
    240.0.0.1 -> "reserved"; 192.0.2.10 -> "not globally routable"; 93.184.216.34 -> None.
    """
    embedded = _embedded_v4(ip)
    if embedded is not None:
        inner, how = embedded
        inner_reason = refusal_reason(inner)
        return f"{how} {inner}, which is {inner_reason}" if inner_reason else None
    if ip in METADATA_ADDRESSES:
        return ("link-local" if ip.is_link_local else "private") + " (cloud metadata)"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.version == 4 and ip in _THIS_NETWORK:
        return "'this network' (0.0.0.0/8)"
    if ip.version == 4 and ip in _SHARED_CGNAT:
        return "shared address space (CGNAT, 100.64.0.0/10)"
    if ip.version == 6 and ip.is_site_local:
        return "site-local"
    if any(ip in net for net in _PRIVATE if net.version == ip.version):
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not globally routable"
    return None


def show(ip: IPAddress) -> str:
    """An address as people write it: IPv4-mapped addresses with their dotted quad ("::ffff:127.0.0.1")."""
    if ip.version == 6 and ip.ipv4_mapped is not None:  # type: ignore[union-attr]
        return f"::ffff:{ip.ipv4_mapped}"  # type: ignore[union-attr]
    return str(ip)


def check_address(ip: str | IPAddress, allow: AllowList) -> None:
    """Raise `Refused` unless `ip` is public or allowed; pure.

    Scenario: check_address("169.254.169.254", AllowList()) raises Refused("169.254.169.254 is link-local (cloud
    metadata)"); check_address("127.0.0.1", AllowList.parse(["127.0.0.1"])) returns None;
    check_address("93.184.216.34", AllowList()) returns None.
    """
    address = _as_ip(ip)
    if allow.allows_address(address):
        return
    reason = refusal_reason(address)
    if reason is not None:
        raise Refused(f"{show(address)} is {reason}", address=show(address))


async def default_resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to for a TCP connection (A and AAAA), in the resolver's order, without
    duplicates. An address literal resolves to itself; a failure raises OSError (socket.gaierror)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _literal(host: str) -> IPAddress | None:
    try:
        return _as_ip(host)
    except ValueError:
        return None


async def checked_addresses(host: str, port: int, allow: AllowList, resolve: Resolver = default_resolve) -> list[str]:
    """The addresses a connection to host:port may use: all of them, once every one has passed the guard.

    Scenario: "localhost" resolving to 127.0.0.1 and ::1 with an allowlist naming only 127.0.0.1 -> Refused
    ("localhost resolves to ::1, which is loopback"): one refused address refuses the name, since the connection
    could go to any of them. An allowed name is not checked. A name that resolves to nothing raises OSError.
    """
    literal = _literal(host)
    if literal is not None:
        try:
            check_address(literal, allow)
        except Refused as exc:
            raise Refused(str(exc), host=host, address=exc.address) from None
        return [str(literal)]
    addresses = await resolve(host, port)
    if not addresses:
        raise OSError(f"{host} does not resolve to any address")
    if allow.allows_name(host):
        return addresses
    for address in addresses:
        try:
            check_address(address, allow)
        except Refused as exc:
            reason = str(exc).removeprefix(f"{exc.address} is ")
            raise Refused(
                f"{host} resolves to {exc.address}, which is {reason}", host=host, address=exc.address
            ) from None
    return addresses


def url_host(url: str | httpx.URL) -> str:
    """The host part of a URL, for logs (never the path or query, which may hold a token): "hooks.slack.com"."""
    try:
        return httpx.URL(str(url)).host or "?"
    except (httpx.InvalidURL, TypeError):
        return "?"


async def check_url(url: str, allow: AllowList, resolve: Resolver = default_resolve) -> None:
    """Raise `Refused` unless `url` is http(s) and its host and every address it resolves to pass the guard.

    Scenario: "http://169.254.169.254/latest/meta-data" -> Refused("169.254.169.254 is link-local (cloud
    metadata)"); "file:///etc/passwd" -> Refused("scheme 'file' is not allowed: http or https only");
    "http://127.0.0.1:8080/hook" with allow_hosts ["127.0.0.1"] -> None. Resolution failures raise OSError (a
    transient failure, retried), not Refused (a decision, not retried).
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise Refused(f"not a valid URL: {type(exc).__name__}") from None
    if parsed.scheme not in ("http", "https"):
        raise Refused(f"scheme {parsed.scheme!r} is not allowed: http or https only")
    host = parsed.raw_host.decode("ascii")
    if not host:
        raise Refused("the URL has no host")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    await checked_addresses(host, port, allow, resolve)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses that passed the guard, resolved at connect time.

    httpcore asks it for a TCP connection to (host, port) of the URL; it resolves host itself, refuses the lot if
    any address is refused, and connects to the checked addresses in order until one answers. TLS is started by
    httpcore afterwards on that stream with the URL's host as server name, so certificates are still checked
    against the name. Unix sockets are refused."""

    def __init__(
        self, allow: AllowList, resolve: Resolver = default_resolve, inner: httpcore.AsyncNetworkBackend | None = None
    ):
        from httpcore._backends.auto import AutoBackend  # httpcore's own default backend

        self._allow = allow
        self._resolve = resolve
        self._inner = inner or AutoBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await checked_addresses(host, port, self._allow, self._resolve)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: typing.Iterable[typing.Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise Refused("unix sockets are not allowed for webhooks")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def _ssl_context(verify: bool) -> ssl.SSLContext:
    """One TLS context per process (loading the CA bundle takes about 50 ms), shared by every receiver's pool."""
    return httpx.create_ssl_context(verify=verify, trust_env=False)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over `GuardedBackend`, without proxies from the environment (a proxy would reach the
    internal network on lytte's behalf) and without connection retries (delivery retries are `retry`'s job)."""

    def __init__(
        self,
        allow: AllowList,
        *,
        resolve: Resolver = default_resolve,
        verify: bool | ssl.SSLContext = True,
        limits: httpx.Limits | None = None,
    ) -> None:
        limits = limits or httpx.Limits(max_connections=10, max_keepalive_connections=2)
        ssl_context = verify if isinstance(verify, ssl.SSLContext) else _ssl_context(verify)
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        # httpx offers no hook for the network backend: replace its pool by an equal one over the guarded backend
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allow, resolve),
        )
