"""Fetching ``image_url`` without letting a caller reach what the server can reach.

A server that fetches URLs for its callers can be made to read its own admin ports, a cloud
metadata service (169.254.169.254) or the office network. So a URL is fetched only when the
operator enabled it (``--allow-urls``), only over http(s), and only from public addresses: the
host name is resolved, *every* address it resolves to is checked, and the connection goes to the
address that was checked (not a second lookup, which a rebinding DNS server could answer
differently). Redirects are followed by hand, each hop checked the same way. Size and time are
bounded: a slow or endless body fails within the limits instead of holding a worker.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from bgapp.core.errors import BgappError

MAX_REDIRECTS = 3
Resolver = Callable[[str, int], list[str]]


class UrlRefused(BgappError):
    """The URL may not be fetched (scheme, address, size, time or the remote's answer); one line."""


class UrlTooLarge(UrlRefused):
    """The remote file is over the size limit (told apart so the server can answer 413)."""


def address_refusal(address: str) -> str | None:
    """Why ``address`` may not be contacted (loopback, private, link-local, ...), or None if it is public.

    IPv4-mapped and 6to4/NAT64-style IPv6 forms are unwrapped first, so ``::ffff:127.0.0.1`` is loopback."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in ipaddress.ip_network("64:ff9b::/96"):  # NAT64: the last 32 bits are an IPv4 address
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
    checks = (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("unspecified", ip.is_unspecified),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("not globally reachable", not ip.is_global),
    )
    for word, hit in checks:
        if hit:
            return f"{ip} is a {word} address" if word != "not globally reachable" else f"{ip} is {word}"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), as strings."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):  # gaierror, and what a name that slipped past host_refusal raises
        raise UrlRefused(f"image_url: cannot resolve the host {host!r}") from None
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (a vetted address) and what to ask for."""

    scheme: str
    host: str
    port: int
    address: str
    path: str


LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?")


def host_refusal(host: str) -> str | None:
    """Why ``host`` is not a host name or an IP address (one line), or None. A malformed name (``a..b``,
    a label over 63 characters) raised UnicodeError from the IDNA codec in the resolver: a 500 (issue 38)."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return None
    except ValueError:
        pass
    try:
        name = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        name = ""
    labels = name.removesuffix(".").split(".")
    if not name or len(name) > 253 or not all(len(label) <= 63 and LABEL.fullmatch(label) for label in labels):
        return f"image_url: {host[:80]!r} is not a valid host name"
    return None


def check_url(url: str, resolve: Resolver = system_resolver) -> Target:
    """The URL's scheme, host and every resolved address checked; raises ``UrlRefused`` with the reason."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError as error:  # "Invalid IPv6 URL", "'zz' does not appear to be an IPv4 or IPv6 address"
        raise UrlRefused(f"image_url: the URL cannot be read ({error})") from None
    if parts.scheme not in ("http", "https"):
        raise UrlRefused(f"image_url: only http and https URLs are fetched, not {parts.scheme or 'a bare path'!r}")
    if parts.username or parts.password:
        raise UrlRefused("image_url: URLs with a user name or password are not fetched")
    if not host:
        raise UrlRefused("image_url: the URL has no host")
    why = host_refusal(host)
    if why:
        raise UrlRefused(why)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UrlRefused("image_url: the URL's port is not a number from 0 to 65535") from None
    addresses = resolve(host, port)
    if not addresses:
        raise UrlRefused(f"image_url: the host {host!r} has no address")
    for address in addresses:
        why = address_refusal(address)
        if why:
            raise UrlRefused(f"image_url: {host} is not fetched ({why}); only public addresses are")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, addresses[0], path)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to an address that was checked, with the certificate checked for the URL's host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float):
        self._tls = ssl.create_default_context()  # our own name: http.client's _context is private
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTP(http.client.HTTPConnection):
    """Plain HTTP to an address that was checked (the Host header keeps the URL's name)."""

    def __init__(self, host: str, address: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def fetch_url(url: str, max_bytes: int, timeout_s: float, resolve: Resolver = system_resolver) -> bytes:
    """The body of ``url`` (at most ``max_bytes``, within ``timeout_s`` in all), every hop checked."""
    deadline = time.monotonic() + timeout_s
    for _ in range(MAX_REDIRECTS + 1):
        target = check_url(url, resolve)
        connection_type = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
        left = _time_left(deadline, url)
        connection = connection_type(target.host, target.address, target.port, left)
        try:
            connection.request("GET", target.path, headers={"User-Agent": "bgapp-serve", "Accept": "image/*"})
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise UrlRefused(f"image_url: the server answered {response.status} without a Location")
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise UrlRefused(f"image_url: the server answered {response.status} {response.reason}".rstrip())
            declared = response.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise UrlTooLarge(
                    f"image_url: the file is {int(declared) / 1e6:.1f} MB, over the {max_bytes / 1e6:g} MB limit"
                )
            return _read_bounded(response, connection, max_bytes, deadline, url)
        except (OSError, http.client.HTTPException) as error:
            reason = "timed out" if isinstance(error, (socket.timeout, TimeoutError)) else type(error).__name__
            raise UrlRefused(f"image_url: could not fetch it ({reason})") from None
        finally:
            connection.close()
    raise UrlRefused(f"image_url: more than {MAX_REDIRECTS} redirects")


def _read_bounded(
    response: http.client.HTTPResponse,
    connection: http.client.HTTPConnection,
    max_bytes: int,
    deadline: float,
    url: str,
) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        if connection.sock is not None:
            connection.sock.settimeout(_time_left(deadline, url))
        chunk = response.read1(65536)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > max_bytes:
            raise UrlTooLarge(f"image_url: the file is over the {max_bytes / 1e6:g} MB limit")
        chunks.append(chunk)


def _time_left(deadline: float, url: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise UrlRefused("image_url: fetching it took too long")
    return left
