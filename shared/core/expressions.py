"""A small, safe expression language over an HTTP response: JSONPath, status and headers.

Conditions and batch keys of dependencies are written in it (`$.status == "done"`,
`status < 300 and $.count > 0`, `headers.x-batch`). It is parsed once, when a dependency is
declared, into a tree of frozen values; evaluating that tree reads the response and nothing
else: there is no `eval`, no attribute access, no call. JSONPath is jsonpath-ng's.

    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := operand (("==" | "!=" | "<" | "<=" | ">" | ">=") operand)?
    operand := "$..." (JSONPath) | "status" | "headers.<name>" | string | number
               | "true" | "false" | "null" | "(" expr ")"

A path that matches nothing reads as null; an ordering between values of different kinds
(a number and a text, say) is false rather than an error, so a response of an unexpected shape
never fails the upstream's finish: it simply does not meet the condition.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonpath_ng.jsonpath import JSONPath
from jsonpath_ng.parser import parse as parse_jsonpath

MAX_EXPRESSION_CHARS = 500
_COMPARATORS = ("==", "!=", "<=", ">=", "<", ">")
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<op>==|!=|<=|>=|<|>|\(|\))
  | (?P<path>\$(?:\[[^\]]*\]|[^\s=!<>()])*)
  | (?P<header>headers\.[A-Za-z0-9_-]+)
  | (?P<word>[A-Za-z_]+)
  )""",
    re.VERBOSE,
)


class ExpressionError(ValueError):
    """An expression that cannot be parsed: the message says where and why."""


@dataclass(frozen=True)
class Response:
    """What an expression reads: the upstream run's status code, headers and JSON body."""

    status: int | None
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Literal:
    value: Any

    def value_in(self, response: Response) -> Any:
        return self.value


@dataclass(frozen=True)
class Path:
    text: str

    def value_in(self, response: Response) -> Any:
        matches = _compiled_path(self.text).find(response.body)
        return matches[0].value if matches else None


@dataclass(frozen=True)
class Status:
    def value_in(self, response: Response) -> Any:
        return response.status


@dataclass(frozen=True)
class Header:
    name: str  # lower case: header names are compared without case

    def value_in(self, response: Response) -> Any:
        for key, value in (response.headers or {}).items():
            if key.lower() == self.name:
                return value
        return None


@dataclass(frozen=True)
class Compare:
    left: Node
    op: str
    right: Node

    def value_in(self, response: Response) -> Any:
        return _compare(self.left.value_in(response), self.op, self.right.value_in(response))


@dataclass(frozen=True)
class Logic:
    op: str  # "and" | "or"
    parts: tuple[Node, ...]

    def value_in(self, response: Response) -> Any:
        values = (truthy(p.value_in(response)) for p in self.parts)
        return all(values) if self.op == "and" else any(values)


@dataclass(frozen=True)
class Not:
    part: Node

    def value_in(self, response: Response) -> Any:
        return not truthy(self.part.value_in(response))


Node = Literal | Path | Status | Header | Compare | Logic | Not


def truthy(value: Any) -> bool:
    """JSON truth: null, false, 0, "" and empty containers are false."""
    return bool(value)


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "==":
        return bool(_same(left, right))
    if op == "!=":
        return not _same(left, right)
    numeric = (int, float)
    comparable = (
        isinstance(left, numeric)
        and isinstance(right, numeric)
        and not isinstance(left, bool)
        and not isinstance(right, bool)
    ) or (isinstance(left, str) and isinstance(right, str))
    if not comparable:
        return False
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _same(left: Any, right: Any) -> bool:
    # True is not 1 in JSON: compare booleans only with booleans.
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    return bool(left == right)


@lru_cache(maxsize=4096)
def _compiled_path(text: str) -> JSONPath:
    path: JSONPath = parse_jsonpath(text)
    return path


@lru_cache(maxsize=4096)
def compile_expression(text: str) -> Node:
    """The tree of `text`; ExpressionError when it is not an expression of the language."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("must not be empty")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"must be at most {MAX_EXPRESSION_CHARS} characters long")
    parser = _Parser(_tokens(text))
    node = parser.expression()
    extra = parser.peek()
    if extra is not None:
        raise ExpressionError(f"unexpected {extra[1]!r} after a complete expression")
    return node


def compile_operand(text: str) -> Node:
    """A single value (a JSONPath, `status` or `headers.<name>`): what a batch key or a template reads."""
    node = compile_expression(text)
    if not isinstance(node, Path | Status | Header):
        raise ExpressionError("must be a JSONPath ($.field), status or headers.<name>")
    return node


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            start = len(text) - len(text[pos:].lstrip())
            if text[start] in "\"'":
                raise ExpressionError(f"a text literal opened at character {start + 1} is not closed")
            if text[start] == "=":
                raise ExpressionError(f"'=' at character {start + 1} is not an operator: compare with '=='")
            raise ExpressionError(f"cannot read {text[start:][:20]!r} (at character {start + 1})")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    """Recursive descent over the tokens; each method is one rule of the grammar above."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ExpressionError("ends too soon: a value is missing")
        self.pos += 1
        return token

    def is_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "word" and token[1] == word

    def expression(self) -> Node:
        return self._chain("or", self.conjunction)

    def conjunction(self) -> Node:
        return self._chain("and", self.negation)

    def _chain(self, word: str, part: Any) -> Node:
        parts = [part()]
        while self.is_word(word):
            self.pos += 1
            parts.append(part())
        return parts[0] if len(parts) == 1 else Logic(word, tuple(parts))

    def negation(self) -> Node:
        if self.is_word("not"):
            self.pos += 1
            return Not(self.negation())
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] in _COMPARATORS:
            self.pos += 1
            return Compare(left, token[1], self.operand())
        return left

    def operand(self) -> Node:
        kind, text = self.take()
        if kind == "string":
            return Literal(_string(text))
        if kind == "number":
            return Literal(float(text) if "." in text else int(text))
        if kind == "path":
            try:
                _compiled_path(text)
            except Exception as exc:  # the lexer's and parser's errors, and what ply raises on odd input
                raise ExpressionError(f"{text!r} is not a JSONPath ({exc})") from None
            return Path(text)
        if kind == "header":
            return Header(text.split(".", 1)[1].lower())
        if kind == "op" and text == "(":
            inner = self.expression()
            if self.peek() != ("op", ")"):
                raise ExpressionError("a '(' is not closed")
            self.pos += 1
            return inner
        if kind == "word":
            constants = {"true": True, "false": False, "null": None}
            if text in constants:
                return Literal(constants[text])
            if text == "status":
                return Status()
        raise ExpressionError(f"unexpected {text!r}: expected a value ($.path, status, headers.<name>, a literal)")


def _string(text: str) -> str:
    if text.startswith("'"):
        text = '"' + text[1:-1].replace('\\"', '"').replace('"', '\\"') + '"'
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExpressionError(f"bad text literal {text} ({exc.msg})") from None
    return str(value)
