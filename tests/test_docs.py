"""The reference in docs/ builds strictly (no broken link or anchor), and the README's links land."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from markdown.extensions.toc import slugify

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# What a user does not have: the team's design notes and its issue tracker.
INTERNAL = re.compile(r"DESIGN\.md|\bissues? \d|\bseed \d{3}\b", re.I)


def _build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_docs_site_builds_strictly(tmp_path: Path) -> None:
    built = _build(ROOT, tmp_path / "site")
    assert built.returncode == 0 and "WARNING" not in built.stderr, built.stderr
    assert (tmp_path / "site" / "governor" / "index.html").exists()


def test_a_broken_link_or_anchor_fails_the_build(tmp_path: Path) -> None:
    """The strictness the first test relies on: mkdocs.yml makes each kind of broken link an error."""
    for broken in ("[a](governor.md#no-such-heading)", "[b](no-such-page.md)", "[c](#nowhere-on-this-page)"):
        project = tmp_path / slugify(broken, "-")
        shutil.copytree(DOCS, project / "docs")
        shutil.copy(ROOT / "mkdocs.yml", project)
        with open(project / "docs" / "index.md", "a") as page:
            page.write(f"\nSee {broken}.\n")
        built = _build(project, project / "site")
        assert built.returncode != 0, f"{broken} passed the strict build"


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    return {slugify(m.group(1).strip(), "-") for m in re.finditer(r"^#+ (.+)$", text, re.M)}


def test_every_link_in_the_readme_lands_on_a_file_and_heading_that_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", readme)
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert len(local) >= 15
    for link in local:
        path, _, anchor = link.partition("#")
        target = ROOT / path
        assert target.exists(), f"README links to {link}, which does not exist"
        if anchor:
            assert anchor in _anchors(target), f"README links to {link}: no such heading there"


def test_the_readme_and_the_docs_cite_nothing_a_user_does_not_have() -> None:
    for page in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        found = INTERNAL.findall(page.read_text())
        assert not found, f"{page.relative_to(ROOT)} cites {found}"


def test_every_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    assert [p.name for p in sorted(DOCS.glob("*.md")) if f": {p.name}" not in nav] == []
