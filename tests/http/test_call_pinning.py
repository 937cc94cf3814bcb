"""The SSRF guard against parser tricks and DNS rebinding, over real sockets.

The layout mirrors the attack: the guard allows only 127.0.0.2, where the allowed target listens;
127.0.0.1 and ::1 (refused) have a listening socket on the same port that never accepts, so any
TCP connection that reaches them waits in its queue and is counted. A refused URL must fail
before any connection at all (conftest.py records every connect), with one message whatever the
port, and a name is resolved once: the connection goes to exactly the address that was checked.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from cronicorn.core.model import ErrorKind
from cronicorn.http.call import HttpCaller
from cronicorn.http.ssrf import AddressGuard
from tests.http.calls import KEY, call
from tests.targets import TargetServer

ALLOWED = "127.0.0.2"


class Listener:
    """Listening sockets on refused addresses that never accept: a connection made to them waits in the queue."""

    def __init__(self, port: int) -> None:
        self.sockets: list[socket.socket] = []
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            sock = socket.socket(family)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a connection in TIME_WAIT may hold the port
            try:
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind((host, port))
            except OSError:
                sock.close()
                if family == socket.AF_INET:
                    raise
                continue  # no IPv6 loopback on this machine: the IPv4 listener is the one that matters
            sock.listen(16)
            sock.setblocking(False)
            self.sockets.append(sock)

    def connections(self) -> int:
        """How many TCP connections reached these sockets (completed handshakes wait here until accepted)."""
        count = 0
        for sock in self.sockets:
            while True:
                try:
                    sock.accept()[0].close()
                except BlockingIOError:
                    break
                count += 1
        return count

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def servers() -> Iterator[tuple[TargetServer, Listener]]:
    """The allowed target on 127.0.0.2 and the refused listeners on the same port number."""
    for _ in range(20):
        server = TargetServer(ALLOWED)
        try:
            listener = Listener(server.port)
        except OSError:
            server.server.server_close()  # that port is taken on 127.0.0.1: try another
            continue
        with server:
            yield server, listener
        listener.close()
        return
    raise RuntimeError("no port free on both 127.0.0.1 and 127.0.0.2")


@pytest.fixture
def allowed(servers: tuple[TargetServer, Listener]) -> TargetServer:
    return servers[0]


@pytest.fixture
def refused(servers: tuple[TargetServer, Listener]) -> Listener:
    return servers[1]


@pytest.fixture
def guarded() -> HttpCaller:
    return HttpCaller(guard=AddressGuard([f"{ALLOWED}/32"]), signing_key=KEY)


class Resolver:
    """The far edge, socket.getaddrinfo, answering chosen names with successive answers (others as usual)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.asked: list[str] = []
        self._real = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", self.getaddrinfo)

    def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in self.answers:
            return self._real(host, port, *args, **kwargs)
        self.asked.append(host)
        answer = self.answers[host][min(len(self.asked), len(self.answers[host])) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answer]


# --- one parser: the URL is read as the connection reads it ---------------------------------------

LOOPBACK = "127.0.0.1 is a loopback address"
FORMS = [
    ("127.0.0.1:{port}\\@127.0.0.2:{port}", LOOPBACK),  # urllib.parse: host 127.0.0.2; urllib3: 127.0.0.1
    ("127.0.0.1:{port}/\\@127.0.0.2:{port}", LOOPBACK),
    ("127.0.0.2:{port}@127.0.0.1:{port}", LOOPBACK),  # the allowed address as userinfo
    ("user@127.0.0.2@127.0.0.1:{port}", LOOPBACK),
    ("127.0.0.1:{port}#@127.0.0.2:{port}", LOOPBACK),
    ("127.0.0.1:{port}?@127.0.0.2:{port}", LOOPBACK),
    ("127.0.0.2:{port}\t@127.0.0.1:{port}", LOOPBACK),
    ("%31%32%37.0.0.1:{port}", LOOPBACK),  # urllib3 decodes a percent-encoded host; urllib.parse does not
    ("2130706433:{port}", "2130706433 resolves to 127.0.0.1, a loopback address"),  # decimal
    ("0177.0.0.1:{port}", "0177.0.0.1 resolves to 127.0.0.1, a loopback address"),  # octal
    ("0x7f.1:{port}", "0x7f.1 resolves to 127.0.0.1, a loopback address"),  # hex, short form
    ("127.1:{port}", "127.1 resolves to 127.0.0.1, a loopback address"),
    ("0.0.0.0:{port}", "0.0.0.0 is an unspecified address"),  # Linux connects it to this machine
    ("[::]:{port}", ":: is an unspecified address"),
    ("[::1]:{port}", "::1 is a loopback address"),
    ("[::ffff:127.0.0.1]:{port}", "::ffff:127.0.0.1 (127.0.0.1) is a loopback address"),
    ("[0:0:0:0:0:ffff:7f00:1]:{port}", "resolves to ::ffff:127.0.0.1 (127.0.0.1), a loopback address"),
    ("LOCALHOST:{port}", "a loopback address"),
]


@pytest.mark.parametrize("form, says", FORMS, ids=[f for f, _ in FORMS])
def test_a_url_that_parsers_read_differently_is_refused_before_any_connection(
    guarded: HttpCaller,
    allowed: TargetServer,
    refused: Listener,
    only_loopback: list[str],
    form: str,
    says: str,
) -> None:
    out = call(guarded, "http://" + form.format(port=allowed.port) + "/ok")
    assert out.error_kind is ErrorKind.BLOCKED and says in (out.error_message or ""), out.error_message
    assert only_loopback == [] and refused.connections() == 0 and allowed.seen == []


@pytest.mark.parametrize(
    "form",
    [
        "127.0.0.1.:{port}",  # a trailing dot: a name to the resolver, which may or may not know it
        "[::1%251]:{port}",  # IPv6 zone ids
        "[::1%25lo]:{port}",
        "[::1%lo]:{port}",
    ],
)
def test_trailing_dots_and_zone_ids_fail_without_any_connection(
    guarded: HttpCaller, allowed: TargetServer, refused: Listener, only_loopback: list[str], form: str
) -> None:
    out = call(guarded, "http://" + form.format(port=allowed.port) + "/ok")
    assert out.error_kind in (ErrorKind.BLOCKED, ErrorKind.DNS, ErrorKind.INVALID_URL), out
    assert only_loopback == [] and refused.connections() == 0


def test_the_allowed_address_is_reached_through_the_same_guard(
    guarded: HttpCaller, allowed: TargetServer, only_loopback: list[str]
) -> None:
    assert call(guarded, allowed.url("/ok")).ok and only_loopback == [ALLOWED]


def test_a_redirect_to_a_url_that_parsers_read_differently_is_refused_before_connecting(
    guarded: HttpCaller, allowed: TargetServer, refused: Listener, only_loopback: list[str]
) -> None:
    trick = f"http://127.0.0.1:{allowed.port}\\@127.0.0.2:{allowed.port}/ok"
    out = call(guarded, allowed.url("/redirect?to=" + quote(trick, safe="")))
    assert out.error_kind is ErrorKind.BLOCKED and LOOPBACK in (out.error_message or "")
    assert out.final_url == trick and only_loopback == [ALLOWED] and refused.connections() == 0
    assert [s.path.split("?")[0] for s in allowed.seen] == ["/redirect"]


@pytest.mark.parametrize(
    "template",
    ["http://127.0.0.1:{port}/", "http://127.0.0.1:{port}\\@127.0.0.2:{allowed}/"],
    ids=["plain", "backslash-at"],
)
def test_an_open_and_a_closed_refused_port_give_the_same_error_and_no_connection(
    guarded: HttpCaller, allowed: TargetServer, refused: Listener, only_loopback: list[str], template: str
) -> None:
    # The port scan this stops: an open port used to fail after connecting, a closed one as refused.
    open_port = refused.sockets[0].getsockname()[1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]  # nothing listens once this closes
    opened = call(guarded, template.format(port=open_port, allowed=allowed.port))
    closed = call(guarded, template.format(port=closed_port, allowed=allowed.port))
    assert opened.error_kind is closed.error_kind is ErrorKind.BLOCKED
    assert opened.error_message == closed.error_message  # nothing tells the open port from the closed one
    assert only_loopback == [] and refused.connections() == 0


# --- one lookup: the connection goes to the address that was checked -------------------------------


def test_a_name_is_resolved_once_and_the_connection_goes_to_the_checked_address(
    guarded: HttpCaller,
    allowed: TargetServer,
    refused: Listener,
    only_loopback: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # DNS rebinding: the first answer passes the guard, every later one points at a refused address.
    dns = Resolver(monkeypatch, {"rebind.test": [[ALLOWED], ["127.0.0.1"]]})
    out = call(guarded, f"http://rebind.test:{allowed.port}/ok")
    assert out.ok and dns.asked == ["rebind.test"]
    assert only_loopback == [ALLOWED] and refused.connections() == 0
    assert allowed.seen[0].headers["Host"] == f"rebind.test:{allowed.port}"  # pinned, yet named


def test_a_name_whose_first_answer_is_refused_is_refused_before_connecting(
    guarded: HttpCaller,
    allowed: TargetServer,
    refused: Listener,
    only_loopback: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dns = Resolver(monkeypatch, {"rebind.test": [["127.0.0.1"], [ALLOWED]]})
    out = call(guarded, f"http://rebind.test:{allowed.port}/ok")
    assert out.error_kind is ErrorKind.BLOCKED and dns.asked == ["rebind.test"]
    assert "rebind.test resolves to 127.0.0.1, a loopback address" in (out.error_message or "")
    assert only_loopback == [] and refused.connections() == 0 and allowed.seen == []


def test_one_refused_answer_among_allowed_ones_refuses_the_name(
    guarded: HttpCaller,
    allowed: TargetServer,
    refused: Listener,
    only_loopback: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Resolver(monkeypatch, {"mixed.test": [[ALLOWED, "127.0.0.1"]]})
    out = call(guarded, f"http://mixed.test:{allowed.port}/ok")
    assert out.error_kind is ErrorKind.BLOCKED and only_loopback == [] and refused.connections() == 0


# --- TLS: the socket is pinned, the name still speaks for the connection ---------------------------


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        + ["-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=tenant.test"]
        + ["-addext", "subjectAltName=DNS:tenant.test"],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_https_to_a_pinned_address_sends_the_name_as_sni_and_host_and_verifies_it(
    certificate: tuple[Path, Path], only_loopback: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = certificate
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    server = TargetServer(ALLOWED)
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
    dns = Resolver(monkeypatch, {"tenant.test": [[ALLOWED], ["127.0.0.1"]]})
    session = requests.Session()
    session.verify = str(cert)  # the test certificate is its own authority
    caller = HttpCaller(guard=AddressGuard([f"{ALLOWED}/32"]), signing_key=KEY, session=session)
    with server:
        out = call(caller, f"https://tenant.test:{server.port}/ok")
    assert out.ok, out.error_message
    assert names == ["tenant.test"] and server.seen[0].headers["Host"] == f"tenant.test:{server.port}"
    assert dns.asked == ["tenant.test"] and only_loopback == [ALLOWED]
