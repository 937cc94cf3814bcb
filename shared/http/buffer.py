"""The buffer a response body is read into: an anonymous memory map of the size the call reserved.

A map's pages cost memory only once bytes are written into them, and go back to the system the
moment it is closed. A bytearray of the same size would be zero-filled (every page touched at
once), and once freed its memory may stay with the C allocator: glibc keeps large freed blocks in
per-thread arenas, which measured as twice the budget in a process reading bodies from 20
threads (bench/response_memory.py). The body is read in place and decoded from a view of the
map, so it is never copied whole on its way to the decoded text or JSON.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType


class BodyBuffer:
    """Up to `capacity` bytes, appended in place; closed (and its memory returned) once decoded."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.size = 0
        self._map = mmap.mmap(-1, capacity) if capacity else None  # a map cannot be empty

    def append(self, chunk: bytes) -> int:
        """Copy in as much of `chunk` as fits; how many bytes that was."""
        count = min(len(chunk), self.capacity - self.size)
        if count and self._map is not None:
            self._map[self.size : self.size + count] = memoryview(chunk)[:count]
            self.size += count
        return count

    @contextmanager
    def contents(self, length: int) -> Iterator[memoryview]:
        """The first `length` bytes, without copying them; the view is valid inside the block only."""
        if self._map is None or length <= 0:
            yield memoryview(b"")
            return
        with memoryview(self._map) as whole, whole[: min(length, self.size)] as part:
            yield part

    def close(self) -> None:
        if self._map is not None:
            self._map.close()

    def __enter__(self) -> BodyBuffer:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
