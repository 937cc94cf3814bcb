"""The guarded transport: urllib3 connections and pools that check every peer, behind a requests adapter."""

from __future__ import annotations

import socket
import threading
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from cronicorn.http.deadline import Scope, current_scope
from cronicorn.http.ssrf import BlockedAddress

_WATCH_LOCK = threading.Lock()  # close() and the watchdog's shutdown() of one duplicate never overlap


class _GuardedHTTPConnection(HTTPConnection):
    """Checks the address it actually connected to, so DNS rebinding cannot slip past the guard."""

    owner: Scope | None = None
    _watch: socket.socket | None = None  # a duplicate of the socket: stays valid when TLS wraps the original

    def _new_conn(self) -> socket.socket:
        scope = current_scope()
        sock = super()._new_conn()
        try:
            self._set_watch(sock.dup())
            scope.admit(self, _peer(sock))
        except BaseException:
            sock.close()
            self._set_watch(None)
            raise
        return sock

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
