"""Write the docs the MCP server serves as resources (api/mcp/docs/) from the pages in docs/.

python scripts/mcp_docs.py           # rewrite them after those pages changed
python scripts/mcp_docs.py --check   # exit 1 when they are out of step (tests/test_mcp.py runs this)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "docs"
DOCS = ROOT / "api" / "mcp" / "docs"
NOTE = "<!-- Written by scripts/mcp_docs.py from pages in docs/; edit them, then run it. -->"
# file: (title, the docs/ pages it holds, in order)
DOC_PAGES = {
    "concepts.md": (
        "Cronicorn concepts: jobs, endpoints, runs, the governor and the AI planner",
        ("concepts.md", "governor.md", "planner.md"),
    ),
    "coordination.md": (
        "Coordinating endpoints: dependencies, the planner's view of the graph, conflicts",
        ("coordination.md",),
    ),
    "configuration.md": ("Configuration: every setting, its default and meaning", ("configuration.md",)),
}
# A link to another page means nothing to an assistant reading a resource: its text stays, the target goes.
_PAGE_LINK = re.compile(r"\[([^\]]+)\]\((?:[\w-]+\.md)?(?:#[\w-]+)?\)")


def nested(page: str) -> str:
    """A page one heading level down (its title becomes a section), its links to other pages as text."""
    lines, fenced = [], False
    for line in page.rstrip().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced:
            line = _PAGE_LINK.sub(r"\1", "#" + line if line.startswith("#") else line)
        lines.append(line)
    return "\n".join(lines) + "\n"


def build(pages: Path = PAGES) -> dict[str, str]:
    docs = {}
    for file, (title, names) in DOC_PAGES.items():
        parts = [nested((pages / name).read_text(encoding="utf-8")) for name in names]
        docs[file] = f"# {title}\n\n{NOTE}\n\n" + "\n".join(parts)
    return docs


def main(argv: list[str]) -> int:
    docs = build()
    stale = [f for f, text in docs.items() if (DOCS / f).read_text(encoding="utf-8") != text]
    if "--check" in argv:
        for file in stale:
            print(f"api/mcp/docs/{file} is out of step with docs/: run python scripts/mcp_docs.py")
        return 1 if stale else 0
    for file in stale:
        (DOCS / file).write_text(docs[file], encoding="utf-8")
        print(f"wrote api/mcp/docs/{file}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
