"""The README's code blocks, read as tests/test_readme.py runs them.

A block runs as written unless an HTML comment right above it says otherwise:
`<!-- readme-test: skip: <why> -->` (it cannot run inside a test), `<!-- readme-test: background: <why> -->`
(it keeps running while the blocks after it run). `text` blocks are sample output and never run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

RUNNABLE = ("bash", "python")
SAMPLES = ("text",)
MARKS = ("skip", "background")
_FENCE = re.compile(
    r"(?:<!-- readme-test: (?P<mark>[\w-]+): (?P<why>[^\n]*?) -->\n)?^```(?P<lang>[^\n]*)\n(?P<code>.*?)^```$",
    re.S | re.M,
)


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    line: int  # where the fence opens, for the failure message
    mark: str | None = None
    why: str | None = None

    @property
    def runs(self) -> bool:
        return self.lang in RUNNABLE and self.mark != "skip"


def read_blocks(path: Path) -> list[Block]:
    """Every fenced block of `path`, in order; a block no rule covers is an error, not a silent skip."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for m in _FENCE.finditer(text):
        line = text.count("\n", 0, m.start("lang")) + 1
        block = Block(m["lang"].strip(), m["code"], line, m["mark"], m["why"])
        where = f"{path.name}:{line}"
        if block.lang not in RUNNABLE + SAMPLES:
            raise ValueError(f"{where}: a ```{block.lang} block: the README test runs only {RUNNABLE}")
        if block.mark is not None and (block.mark not in MARKS or not (block.why or "").strip()):
            raise ValueError(f"{where}: a readme-test mark must be one of {MARKS} with a reason")
        if block.mark is not None and block.lang not in RUNNABLE:
            raise ValueError(f"{where}: only {RUNNABLE} blocks take a readme-test mark")
        blocks.append(block)
    stray = text.count("<!-- readme-test:") - sum(b.mark is not None for b in blocks)
    if stray:
        raise ValueError(f"{path.name}: {stray} readme-test mark(s) not right above a fenced block")
    return blocks
