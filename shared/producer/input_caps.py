"""How big an endpoint's declared HTTP request may be: the size caps every edge checks the same way.

The values come from the settings table (read once, at the entry points) and travel with the client, so
the Python client, the CLI, `register` and the REST API refuse the same input with the same reason. The
installation's defaults for what an endpoint may leave out (its `catch_up`) travel with them, so every
edge fills them in the same way too.
"""

from __future__ import annotations

from dataclasses import dataclass

from cronicorn.core.settings import Settings


@dataclass(frozen=True)
class InputCaps:
    """Caps on an endpoint's request body and headers, and the defaults it gets; the settings' defaults."""

    max_body_bytes: int = 65_536
    max_headers: int = 50
    max_header_name_chars: int = 256
    max_header_value_chars: int = 8192
    catch_up: str = "coalesce"  # CRONICORN_CATCH_UP: given to endpoints created without one

    @classmethod
    def of(cls, settings: Settings) -> InputCaps:
        return cls(
            max_body_bytes=settings.max_body_bytes,
            max_headers=settings.max_headers,
            max_header_name_chars=settings.max_header_name_chars,
            max_header_value_chars=settings.max_header_value_chars,
            catch_up=settings.catch_up,
        )


DEFAULT_CAPS = InputCaps()
