"""Every failure a tool meets, as a tool error the assistant can read: the field and why, or the object.

Bad input, a missing object (another tenant's too) and a refused state change are the caller's and
say so; a database or Redis that cannot be reached says which. Anything else is our bug: the SDK
answers "Error executing tool <name>" and logs the traceback, never the internals.
"""

from __future__ import annotations

import logging

import redis
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError
from sqlalchemy import exc as sa

from cronicorn.core.errors import Conflict, FieldError, InvalidInput, NotFound
from cronicorn.producer.specs import field_errors

log = logging.getLogger(__name__)
_UNAVAILABLE = (sa.OperationalError, sa.InterfaceError, sa.DisconnectionError, sa.TimeoutError)


def invalid(errors: list[FieldError]) -> ToolError:
    return ToolError(str(InvalidInput(errors)))


def _database_error(exc: sa.SQLAlchemyError) -> ToolError | None:
    if isinstance(exc, _UNAVAILABLE) or (isinstance(exc, sa.DBAPIError) and exc.connection_invalidated):
        log.warning("database unavailable: %s", exc)
        return ToolError(f"database unavailable ({exc.__class__.__name__}); try again later")
    if isinstance(exc, sa.DataError):
        log.warning("the database refused a value that passed validation", exc_info=exc)
        return invalid([FieldError("input", "holds a value the database cannot store")])
    if isinstance(exc, sa.IntegrityError):
        log.warning("integrity error", exc_info=exc)
        return ToolError("conflict: the change conflicts with stored data")
    return None  # our bug: let the SDK say "Error executing tool" and log it


def tool_error(cause: BaseException | None) -> ToolError | None:
    """The tool error a tool's failure stands for, or None when it is our bug (the SDK hides and logs it)."""
    if isinstance(cause, ValidationError):  # the arguments against the input schema, before the body ran
        return invalid(field_errors(cause))
    if isinstance(cause, InvalidInput):
        return ToolError(str(cause))
    if isinstance(cause, NotFound):
        return ToolError(f"not found: {cause}")
    if isinstance(cause, Conflict):
        return ToolError(f"conflict: {cause}")
    if isinstance(cause, redis.RedisError):
        return ToolError(f"redis unavailable ({cause.__class__.__name__}); try again later")
    if isinstance(cause, sa.SQLAlchemyError):
        return _database_error(cause)
    return None
