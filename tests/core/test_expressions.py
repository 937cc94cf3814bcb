"""The expression language of dependencies, as a table: what each expression reads from a response,
and what each refused one is told (the message names the problem)."""

from __future__ import annotations

from typing import Any

import pytest

from cronicorn.core.expressions import (
    MAX_EXPRESSION_CHARS,
    ExpressionError,
    Response,
    compile_expression,
    compile_operand,
)

RESPONSE = Response(
    status=200,
    headers={"Content-Type": "application/json", "X-Batch": "b7", "X-Ready": "1"},
    body={
        "status": "done",
        "batch_id": "2025-01-15-001",
        "count": 3,
        "ratio": 0.5,
        "ok": True,
        "empty": "",
        "none": None,
        "items": [{"id": 1, "state": "new"}, {"id": 2, "state": "old"}],
        "nested": {"deep": {"flag": False}},
        "text_number": "10",
    },
)

VALUES: list[tuple[str, Any]] = [
    # reading values: JSONPath into the body, status, headers (any case), literals
    ("$.status", "done"),
    ("$.count", 3),
    ("$.items[1].state", "old"),
    ("$.items[*].id", 1),  # the first match
    ("$.nested.deep.flag", False),
    ("$.missing", None),  # a path matching nothing reads as null
    ("$.missing.deeper", None),
    ("status", 200),
    ("headers.x-batch", "b7"),
    ("headers.X-BATCH", "b7"),
    ("headers.x-absent", None),
    ('"done"', "done"),
    ("'single'", "single"),
    ("42", 42),
    ("-1.5", -1.5),
    ("true", True),
    ("null", None),
    # comparisons
    ('$.status == "done"', True),
    ("$.status == 'done'", True),
    ('$.status != "done"', False),
    ("$.count > 2", True),
    ("$.count >= 3", True),
    ("$.count < 3", False),
    ("$.ratio <= 0.5", True),
    ("status < 300", True),
    ("status == 200", True),
    ('headers.x-ready == "1"', True),
    ("$.ok == true", True),
    ("$.ok == 1", False),  # true is not 1 in JSON
    ("$.count == 3.0", True),
    ("$.missing == null", True),
    ("$.none == null", True),
    ("$.text_number > 5", False),  # text and number do not order: false, never an error
    ("$.missing < 1", False),
    ('"b" > "a"', True),
    # logic, precedence (not > and > or), parentheses, JSON truth
    ('$.status == "done" and status < 300', True),
    ('$.status == "done" and $.count > 5', False),
    ('$.count > 5 or $.status == "done"', True),
    ("not $.ok", False),
    ("not $.empty", True),
    ("not not $.count", True),
    ("$.empty or $.none", False),
    ('$.count > 5 and $.ok or $.status == "done"', True),  # (a and b) or c
    ('$.count > 5 and ($.ok or $.status == "done")', False),
    ("not $.count > 5 and $.ok", True),  # (not a) and b
    ("(status)", 200),
    ("((($.count == 3)))", True),
]


@pytest.mark.parametrize(("text", "value"), VALUES)
def test_an_expression_reads_its_value_from_the_response(text: str, value: Any) -> None:
    result = compile_expression(text).value_in(RESPONSE)
    assert result == value and type(result) is type(value)


REFUSED: list[tuple[str, str]] = [
    ("", "must not be empty"),
    ("   ", "must not be empty"),
    ("x" * (MAX_EXPRESSION_CHARS + 1), f"at most {MAX_EXPRESSION_CHARS} characters"),
    ("$.status = 'done'", "'=' at character 10 is not an operator: compare with '=='"),
    ("$.a ==", "ends too soon: a value is missing"),
    ("$.a == 1 and", "ends too soon"),
    ("(status", "a '(' is not closed"),
    ("(status == 1 $.a", "a '(' is not closed"),
    ("status)", "unexpected ')' after a complete expression"),
    ("$.a $.b", "unexpected '$.b' after a complete expression"),
    ("status > 1 1", "unexpected '1' after a complete expression"),
    ("$.a == 1 == 2", "unexpected '==' after a complete expression"),
    ('"abc', "a text literal opened at character 1 is not closed"),
    ("$.a == 'abc", "a text literal opened at character 8 is not closed"),
    ("$[", "'$[' is not a JSONPath"),
    ("$.a[?", "is not a JSONPath"),
    ("body", "unexpected 'body': expected a value"),
    ("__import__('os')", "unexpected '__import__'"),
    ("os.system", "cannot read '.system'"),
    ("len($.items)", "unexpected 'len'"),
    ("$.count + 1", "cannot read '+ 1'"),
    ("and", "unexpected 'and'"),
    ("not", "ends too soon"),
    ("== 1", "unexpected '=='"),
    ("headers.", "cannot read '.'"),
    ("1 ; drop", "cannot read '; drop'"),
]


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_a_bad_expression_is_refused_naming_the_problem(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as err:
        compile_expression(text)
    assert message in str(err.value), str(err.value)


@pytest.mark.parametrize("text", ["$.batch_id", "status", "headers.x-batch"])
def test_an_operand_is_a_single_value(text: str) -> None:
    assert compile_operand(text).value_in(RESPONSE) is not None


@pytest.mark.parametrize("text", ['$.a == "x"', '"literal"', "1", "not $.a", "true"])
def test_an_operand_refuses_anything_but_a_path_status_or_header(text: str) -> None:
    with pytest.raises(ExpressionError, match=r"must be a JSONPath \(\$.field\), status or headers.<name>"):
        compile_operand(text)


def test_an_unexpected_response_shape_reads_as_not_met_not_as_an_error() -> None:
    expr = compile_expression('$.status == "done" and $.count > 0')
    for body in (None, [], "text", 7, {"status": ["done"]}, {"count": "many"}):
        assert expr.value_in(Response(status=None, headers={}, body=body)) is False
