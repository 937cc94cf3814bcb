"""Failures of a call: what requests, urllib3 and sockets raised, as an ErrorKind and a one-line message."""

from __future__ import annotations

import re
import socket
import ssl
import time
from http import HTTPStatus

import requests
from urllib3.exceptions import (
    DecodeError,
    LocationParseError,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.util import parse_url

from cronicorn.core.model import ErrorKind
from cronicorn.http.deadline import Scope
from cronicorn.http.ssrf import BlockedAddress, UnresolvableHost
from cronicorn.http.urls import port_of


class Failure(Exception):
    """A classified failure; becomes the outcome."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def timed_out(timeout_ms: int, host: str) -> Failure:
    return Failure(ErrorKind.TIMEOUT, f"timed out after {timeout_ms} ms waiting for {host}")


def classify(
    exc: BaseException, *, scope: Scope, url: str, host: str, timeout_ms: int, connect_ms: int, connecting: bool
) -> Failure:
    """Map what requests/urllib3/socket raised to an error kind with a one-line message naming the host."""
    blocked = _find(exc, BlockedAddress)
    if blocked is not None:
        return Failure(ErrorKind.BLOCKED, naming(f"{blocked}", host, "connecting to"))
    if scope.expired or time.monotonic() >= scope.deadline:
        return timed_out(timeout_ms, host)  # whatever broke, it broke because the deadline cut it
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Failure(ErrorKind.TIMEOUT, f"timed out after {connect_ms} ms connecting to {host}")
    if isinstance(exc, (requests.exceptions.Timeout, ReadTimeoutError, socket.timeout)):
        return timed_out(timeout_ms, host)
    if isinstance(exc, requests.exceptions.SSLError) or _find(exc, ssl.SSLError) is not None:
        return Failure(ErrorKind.TLS, f"TLS error with {host}: {_root(exc)}")
    unresolved = _find(exc, UnresolvableHost)
    if unresolved is not None:
        return Failure(ErrorKind.DNS, naming(str(unresolved), host, "calling"))
    if _find(exc, NameResolutionError) is not None or _find(exc, socket.gaierror) is not None:
        return Failure(ErrorKind.DNS, f"could not resolve host {host}")
    if isinstance(
        exc,
        (
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidHeader,
            UnicodeError,
            ValueError,
        ),
    ):
        return Failure(ErrorKind.INVALID_URL, f"invalid request to {host}: {_one_line(str(exc))}")
    where = _netloc(url)
    if isinstance(exc, requests.exceptions.ContentDecodingError) or _find(exc, DecodeError) is not None:
        return Failure(ErrorKind.CONNECTION, f"could not decode the body from {where}: {_root(exc)}")
    if isinstance(exc, (requests.exceptions.RequestException, Urllib3Error, OSError)):
        if _find(exc, NewConnectionError) is not None:
            action = f"could not connect to {where}"
        elif connecting:
            action = f"connection to {where} failed"
        else:
            action = f"connection to {where} broke while reading the body"
        return Failure(ErrorKind.CONNECTION, f"{action}: {_root(exc)}")
    raise exc  # not a target problem: HttpCaller.call logs it


def naming(message: str, host: str, doing: str = "calling") -> str:
    """`message`, with the host added when it does not already say it."""
    return message if host in message else f"{message} ({doing} {host})"


def status_line(response: requests.Response) -> str:
    reason = response.reason
    if not reason:
        try:
            reason = HTTPStatus(response.status_code).phrase
        except ValueError:
            reason = ""
    return f"HTTP {response.status_code} {_one_line(reason)}".strip()


def _netloc(url: str) -> str:
    try:
        parts = parse_url(url)
    except LocationParseError:
        return url
    return f"{(parts.host or '').strip('[]')}:{port_of(parts)}"


def _find(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of `kind` in the wrapping chain (cause, context, args, urllib3's reason)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        stack.extend(e for e in linked if isinstance(e, BaseException))
    return None


def _root(exc: BaseException) -> str:
    """The innermost, most specific message of a wrapped exception, on one line."""
    current: BaseException = exc
    for _ in range(10):
        inner = getattr(current, "reason", None) or current.__cause__ or current.__context__
        if not isinstance(inner, BaseException):
            inner = next((a for a in current.args if isinstance(a, BaseException)), None)
        if inner is None:
            break
        current = inner
    text = current.strerror if isinstance(current, OSError) and current.strerror else str(current)
    for marker in ("Failed to establish a new connection: ", "[Errno ", "[SSL: "):
        if marker in text and "] " in text.split(marker, 1)[1]:
            text = text.split(marker, 1)[1].split("] ", 1)[1]
    text = re.sub(r"\s*\(_ssl\.c:\d+\)", "", text)  # CPython's source line helps nobody reading a run
    return _one_line(text.strip("()'\"") or type(current).__name__)


def _one_line(text: str) -> str:
    return " ".join(text.split())
