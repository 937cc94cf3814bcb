"""Write the docs the MCP server serves as resources (api/mcp/docs/) from the README's sections.

python scripts/mcp_docs.py           # rewrite them after the README changed
python scripts/mcp_docs.py --check   # exit 1 when they are out of step (tests/test_mcp.py runs this)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "api" / "mcp" / "docs"
NOTE = "<!-- Written by scripts/mcp_docs.py from the README's sections; edit the README, then run it. -->"
# file: (title, a pattern every README "## " section it holds matches, in README order)
DOC_SECTIONS = {
    "concepts.md": (
        "Cronicorn concepts: jobs, endpoints, runs, the governor and the AI planner",
        r"The governor|The AI planner",
    ),
    "coordination.md": (
        "Coordinating endpoints: dependencies, the planner's view of the graph, conflicts",
        r"Coordination\b.*",
    ),
    "configuration.md": ("Configuration: every setting, its default and meaning", r"Configuration"),
}


def sections(readme: str) -> list[tuple[str, str]]:
    """Every "## " section of the README (its subsections included) as (title, text)."""
    starts = [m.start() for m in re.finditer(r"^## ", readme, re.M)] + [len(readme)]
    found = []
    for start, end in zip(starts, starts[1:], strict=False):
        text = readme[start:end].rstrip() + "\n"
        found.append((text.splitlines()[0][3:].strip(), text))
    return found


def build(readme: str) -> dict[str, str]:
    intro = readme[readme.index("\n") + 1 : readme.index("\n## ")].strip() + "\n"
    docs = {}
    for file, (title, pattern) in DOC_SECTIONS.items():
        parts = [text for name, text in sections(readme) if re.fullmatch(pattern, name)]
        if not parts:
            raise SystemExit(f"{file}: no README section matches {pattern!r}")
        lead = [intro] if file == "concepts.md" else []
        docs[file] = f"# {title}\n\n{NOTE}\n\n" + "\n".join(lead + parts)
    return docs


def main(argv: list[str]) -> int:
    docs = build((ROOT / "README.md").read_text(encoding="utf-8"))
    stale = [f for f, text in docs.items() if (DOCS / f).read_text(encoding="utf-8") != text]
    if "--check" in argv:
        for file in stale:
            print(f"api/mcp/docs/{file} is out of step with the README: run python scripts/mcp_docs.py")
        return 1 if stale else 0
    for file in stale:
        (DOCS / file).write_text(docs[file], encoding="utf-8")
        print(f"wrote api/mcp/docs/{file}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
