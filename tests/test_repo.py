"""The repository keeps its promises: CI runs exactly the README's test command, and a clone
holds everything its files refer to."""

from __future__ import annotations

import os
import re
from pathlib import Path

from conftest import REPO

# References to the machine the project is developed on: the directory beside the checkout
# (its data and benchmark protocol) or an absolute path of it. A clone has neither.
OUTSIDE = re.compile(r"\.\./shared|\bshared/(?:bench|data)\b|REPO\.parent\b|/wor[k]/")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".yaml", ".yml", ".txt", ".cfg", ".sh", ""}
NOT_OURS = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", "out"}


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    test_command = blocks[1].strip()  # the second set-up command: dev extras and tests
    assert "pytest" in test_command
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert ci[-1] == test_command


def test_no_file_names_a_path_outside_the_repository():
    found = []
    for root, dirs, files in os.walk(REPO):
        dirs[:] = sorted(d for d in dirs if d not in NOT_OURS and not d.endswith(".egg-info"))
        for name in sorted(files):
            path = Path(root, name)
            if path.suffix not in TEXT_SUFFIXES:
                continue
            where = path.relative_to(REPO).as_posix()
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                found += [f"{where}:{number}: {m[0]}" for m in OUTSIDE.finditer(line)]
    assert not found, "\n".join(found)
