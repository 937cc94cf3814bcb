"""Type-check and layer-check the installed layout (`cronicorn.*`) straight from the source folders.

The role folders are installed under one `cronicorn` package by setuptools' package-dir mapping,
which mypy and import-linter cannot follow. So this lays a tree of symlinks in the shape of the
installed package (build/typecheck/cronicorn/...), runs the tool there and prints paths back as
source paths. Usage: python scripts/typecheck.py mypy | lint-imports
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT / "build" / "typecheck"


def package_dirs() -> dict[str, Path]:
    """Each mapped package and its source folder, from pyproject.toml (the wheel's own truth)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping = config["tool"]["setuptools"]["package-dir"]
    return {name: ROOT / folder for name, folder in mapping.items()}


def lay_tree() -> Path:
    shutil.rmtree(TREE, ignore_errors=True)
    for name, folder in sorted(package_dirs().items()):
        target = TREE.joinpath(*name.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for entry in folder.iterdir():
            if entry.name != "__pycache__" and not (target / entry.name).exists():
                (target / entry.name).symlink_to(entry)
    return TREE


def source_path(line: str, sources: dict[str, Path]) -> str:
    """`cronicorn/core/x.py:3: error` -> `shared/core/x.py:3: error` (longest mapped prefix wins)."""
    for name in sorted(sources, key=len, reverse=True):
        prefix = name.replace(".", "/") + "/"
        if line.startswith(prefix):
            return str(sources[name].relative_to(ROOT)) + "/" + line[len(prefix) :]
    return line


def main(argv: list[str]) -> int:
    tool = argv[0] if argv else "mypy"
    tree = lay_tree()
    sources = package_dirs()
    if tool == "mypy":
        cmd = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "-p", "cronicorn"]
    elif tool == "lint-imports":
        cmd = [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command as c; "
            "sys.exit(c([sys.argv[1], '--no-cache']))",
            str(ROOT / "pyproject.toml"),
        ]
    else:
        print(f"unknown tool {tool!r}: use mypy or lint-imports", file=sys.stderr)
        return 2
    env = {**os.environ, "PYTHONPATH": str(tree), "MYPYPATH": str(tree)}
    proc = subprocess.run(cmd + argv[1:], cwd=tree, env=env, capture_output=True, text=True)
    for line in (proc.stdout + proc.stderr).splitlines():
        print(source_path(line, sources))
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
