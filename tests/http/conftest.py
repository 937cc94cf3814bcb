"""The HTTP executor's tests share a guarded caller and a guard that fails any test reaching beyond this machine."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from cronicorn.http.call import HttpCaller
from cronicorn.http.ssrf import AddressGuard
from tests.http.calls import KEY, LOCAL_HOSTS, LOOPBACK


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Records the address of every TCP connection attempted, and fails the test if one is not this machine.

    Patched at the socket itself, below urllib3 and our transport: no code path can connect unseen.
    """
    attempted: list[str] = []
    real = socket.socket.connect

    def recording(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            attempted.append(str(address[0]))
            assert address[0] in LOCAL_HOSTS, f"test tried to connect to {address[0]}"
        real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", recording)
    yield attempted
    assert set(attempted) <= LOCAL_HOSTS


@pytest.fixture
def caller() -> HttpCaller:
    return HttpCaller(guard=AddressGuard(LOOPBACK), signing_key=KEY, max_redirects=3)
