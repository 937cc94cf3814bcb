"""The guarded transport: urllib3 connections and pools that check every peer, behind a requests adapter."""

from __future__ import annotations

import socket
import sys
import threading
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family

from cronicorn.http.deadline import Scope, current_scope
from cronicorn.http.ssrf import Address, BlockedAddress

_WATCH_LOCK = threading.Lock()  # close() and the watchdog's shutdown() of one duplicate never overlap


class _GuardedHTTPConnection(HTTPConnection):
    """Resolves its host once, checks every address, and connects only to those checked addresses.

    The host is the one urllib3 parsed from the URL and would have resolved itself (`_dns_host`),
    so no other parser's reading of the URL is what gets checked. TLS (SNI, certificate) and the
    Host header still use the name: only the socket is pinned to the checked address.
    """

    owner: Scope | None = None
    _watch: socket.socket | None = None  # a duplicate of the socket: stays valid when TLS wraps the original

    def _new_conn(self) -> socket.socket:
        scope = current_scope()
        try:
            # Refused here, before any packet is sent: an open and a closed port give the same error.
            addresses = scope.guard.check_host(self._dns_host, self.port, allowed_gai_family())
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        sock = self._connect(addresses)
        try:
            self._set_watch(sock.dup())
            scope.admit(self, _peer(sock))
        except BaseException:
            sock.close()
            self._set_watch(None)
            raise
        sys.audit("http.client.connect", self, self.host, self.port)
        return sock

    def _connect(self, addresses: list[Address]) -> socket.socket:
        """The first checked address that accepts (in the resolver's order, as urllib3 tries them)."""
        error: OSError = OSError("no address to connect to")
        for address in addresses:
            sock = socket.socket(address.family, socket.SOCK_STREAM, address.proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                if self.timeout is None or isinstance(self.timeout, (int, float)):
                    sock.settimeout(self.timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(address.sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        # The errors urllib3 raises from its own connect, so requests and classify read them the same.
        if isinstance(error, TimeoutError):
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from error
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}") from error

    def request(self, *args: Any, **kwargs: Any) -> None:
        if self.sock is not None:  # a kept-alive connection: check it again and own it for this call
            try:
                peer = _peer(self.sock)
            except OSError:
                self.close()  # it went stale in the pool; http.client reconnects (and _new_conn checks)
            else:
                current_scope().admit(self, peer)
        super().request(*args, **kwargs)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._set_watch(None)

    def _set_watch(self, sock: socket.socket | None) -> None:
        with _WATCH_LOCK:
            old, self._watch = self._watch, sock
            if old is not None:
                old.close()

    def cut(self) -> None:
        """Shut the socket down, so a read blocked on it returns at once."""
        with _WATCH_LOCK:
            if self._watch is not None:
                try:
                    self._watch.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed by the other side


def _peer(sock: socket.socket) -> str:
    return str(sock.getpeername()[0])


class _GuardedHTTPSConnection(HTTPSConnection, _GuardedHTTPConnection):
    """The TLS flavour: the same checks run before the handshake."""


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection

    def _put_conn(self, conn: Any) -> None:
        if isinstance(conn, _GuardedHTTPConnection) and conn.owner is not None:
            conn.owner.release(conn)
        super()._put_conn(conn)


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection

    def _put_conn(self, conn: Any) -> None:
        if isinstance(conn, _GuardedHTTPConnection) and conn.owner is not None:
            conn.owner.release(conn)
        super()._put_conn(conn)


class GuardedAdapter(HTTPAdapter):
    """Pools of guarded connections; no proxies (a proxy would be the peer the guard sees)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPConnectionPool,
            "https": _GuardedHTTPSConnectionPool,
        }

    def proxy_manager_for(self, proxy: Any, **proxy_kwargs: Any) -> Any:
        raise BlockedAddress("refused by SSRF guard: proxies are not supported for scheduled calls")
