"""The HTTP executor's tests share a guarded caller and a guard that fails any test reaching beyond 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3.util.connection

from cronicorn.http.call import HttpCaller
from cronicorn.http.ssrf import AddressGuard
from tests.http.calls import KEY, LOCAL_HOSTS, LOOPBACK


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Records every host urllib3 connects to, and fails the test if one is not this machine."""
    attempted: list[str] = []
    real = urllib3.util.connection.create_connection

    def recording(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        attempted.append(address[0])
        assert address[0] in LOCAL_HOSTS, f"test tried to connect to {address[0]}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", recording)
    yield attempted
    assert set(attempted) <= LOCAL_HOSTS


@pytest.fixture
def caller() -> HttpCaller:
    return HttpCaller(guard=AddressGuard(LOOPBACK), signing_key=KEY, max_redirects=3)
