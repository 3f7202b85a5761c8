"""The user documents say what is true now: real commands and options, live links, no history.

README.md, benchmarks/README.md and examples/data/README.md are read as a user reads them. Every
`rnnforecast ...` line in the README's code must name a real command and only options that
command has (checked against the typer app itself), the README's first command runs as written,
and nothing in the documents points outside the repository.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from conftest import FAST, REPO
from typer.testing import CliRunner

from rnnforecast.cli import app

README = REPO / "README.md"
DOCS = [README, REPO / "benchmarks" / "README.md", REPO / "examples" / "data" / "README.md"]
MAX_README_CHARS = 15_000

# Wording that belongs in commit messages, not in a user's document.
HISTORY = [
    r"measured and dropped",
    r"earlier session",
    r"this session",
    r"session",
    r"\bstop \d+",
    r"the team",
    r"as the issue",
    r"issue",
    r"\(target <=",
]
# Paths of the machine the project is developed on, never of a user's clone.
OUTSIDE = [r"\bshared/(bench|data)\b", r"/wor[k]/", r"/tmp/", r"/home/"]
# Options of other programs that the README's commands use (pip, torchrun).
FOREIGN_FLAGS = {
    "--index-url",
    "--standalone",
    "--nproc-per-node",
    "--nnodes",
    "--node-rank",
    "--rdzv-backend",
    "--rdzv-endpoint",
    "--rdzv-id",
}
SEPARATORS = {"&&", "||", "|", ";", "&", ">", ">>", "<"}
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", flags=re.S | re.M)
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def code_blocks(text: str) -> list[str]:
    """The fenced code blocks, backslash continuations joined."""
    return [re.sub(r"\\\n\s*", " ", block) for block in FENCE.findall(text)]


def command_lines(text: str) -> Iterator[str]:
    """Every line of fenced code, then every inline code span that starts `rnnforecast `."""
    for block in code_blocks(text):
        yield from block.splitlines()
    prose = FENCE.sub("", text)
    for span in re.findall(r"`(rnnforecast [^`]+)`", prose):
        yield span.replace("\n", " ")


def rnnforecast_args(line: str) -> Iterator[list[str]]:
    """The arguments after `rnnforecast` in each shell command of a line (cron fields,
    `torchrun ... -m` and `&&` chains included); comments left out."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    segment: list[str] = []
    for token in [*lexer, "&&"]:
        if token not in SEPARATORS:
            segment.append(token)
            continue
        if "rnnforecast" in segment:
            yield segment[segment.index("rnnforecast") + 1 :]
        segment = []


def subcommands(command: Any) -> dict[str, Any]:
    """A group's commands by name; {} for a command (click's and typer's own click alike)."""
    return getattr(command, "commands", None) or {}


def option_names(command: Any) -> set[str]:
    names = {"--help", "-h"}
    for param in command.params:
        names.update(param.opts, param.secondary_opts)
    return names


def all_option_names(command: Any) -> set[str]:
    names = option_names(command)
    for sub in subcommands(command).values():
        names |= all_option_names(sub)
    return names


def check_command(args: list[str]) -> str | None:
    """None when `rnnforecast ARGS` names a real command, only its options, and values its
    parser accepts; else what is wrong."""
    command = typer.main.get_command(app)
    path = ["rnnforecast"]
    rest = list(args)
    while subcommands(command) and rest and not rest[0].startswith("-"):
        if rest[0] not in subcommands(command):
            return f"no command '{' '.join([*path, rest[0]])}'"
        path.append(rest[0])
        command = subcommands(command)[rest.pop(0)]
    valid = option_names(command)
    unknown = [a.split("=")[0] for a in rest if a.startswith("-") and a != "-"]
    unknown = [a for a in unknown if a not in valid]
    if unknown:
        return f"'{' '.join(path)}' has no option {', '.join(unknown)}"
    if subcommands(command) or {"--help", "-h"} & set(rest):
        return None  # a group's options run callbacks (completion install), help prints: names only
    try:
        command.make_context(" ".join(path), rest)  # parses and converts, runs nothing
    except Exception as e:  # a usage error of the command's parser
        if not hasattr(e, "format_message"):
            raise
        return f"'{' '.join(path)}' refuses it: {e.format_message()}"
    return None


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_docs_carry_no_development_history(doc: Path):
    text = doc.read_text(encoding="utf-8")
    found = [m.group(0) for p in HISTORY for m in re.finditer(p, text, flags=re.I)]
    assert not found, f"{doc.relative_to(REPO)}: history wording {sorted(set(found))}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_docs_name_no_path_outside_the_repository(doc: Path):
    text = doc.read_text(encoding="utf-8")
    found = [m.group(0) for p in OUTSIDE for m in re.finditer(p, text)]
    for up in re.findall(r"(?:\.\./)+[\w./-]*", text):  # relative paths must stay inside
        if not (doc.parent / up).resolve().is_relative_to(REPO.resolve()):
            found.append(up)
    assert not found, f"{doc.relative_to(REPO)}: paths outside the repository {found}"


def test_readme_is_a_short_user_document():
    size = len(README.read_text(encoding="utf-8"))
    assert size <= MAX_README_CHARS, f"README.md has {size:,} characters"


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_readme_links_its_evidence_and_every_link_resolves():
    readme = README.read_text(encoding="utf-8")
    assert "](benchmarks/README.md" in readme, "README.md links no evidence in benchmarks/"
    broken = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue  # a web address
            file, _, anchor = target.partition("#")
            path = (doc.parent / file) if file else doc
            if not path.is_file():
                broken.append(f"{doc.name}: {target} (no such file)")
                continue
            if anchor:
                headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.M)
                if anchor not in {slug(h) for h in headings}:
                    broken.append(f"{doc.name}: {target} (no such heading)")
    assert not broken, broken


def test_readme_commands_name_real_commands_and_options():
    readme = README.read_text(encoding="utf-8")
    commands = [args for line in command_lines(readme) for args in rnnforecast_args(line)]
    assert len(commands) >= 10, commands  # the parser found the README's commands
    problems = [f"rnnforecast {shlex.join(a)}: {p}" for a in commands if (p := check_command(a))]
    assert not problems, "\n".join(problems)


def test_readme_flags_all_exist():
    """Every `--flag` the README names, in prose too, is an option of some command."""
    known = all_option_names(typer.main.get_command(app)) | FOREIGN_FLAGS
    named = set(FLAG.findall(README.read_text(encoding="utf-8")))
    assert not named - known, f"README.md names options no command has: {sorted(named - known)}"


def test_readme_first_command_runs_as_written(tmp_path, monkeypatch):
    """The main job, exactly as the README's first block gives it, in a fresh directory with
    the repository's files it names."""
    first = code_blocks(README.read_text(encoding="utf-8"))[0]
    assert first.startswith("pip install . && rnnforecast train ")
    jobs = list(rnnforecast_args(first))
    assert [job[0] for job in jobs] == ["train", "predict"]
    for arg in (a for job in jobs for a in job):
        if (REPO / arg).is_file():
            (tmp_path / arg).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / arg, tmp_path / arg)
    monkeypatch.chdir(tmp_path)
    for job in jobs:
        result = CliRunner().invoke(app, job)
        assert result.exit_code == 0, result.output
    forecast = pd.read_csv(tmp_path / "forecast.csv")
    assert forecast["ds"].tolist() == [f"1961-{m:02d}-01" for m in range(1, 13)]
    assert forecast["y_hat"].notna().all()


# What the README's usage commands may name, as files a test can provide; a command naming
# anything else (a covariates file, /srv paths, --nproc or torchrun) is only parsed above.
PROVIDED = {"data.csv", "newer.csv", "model/", "forecast.csv", "report/", "cfg.yaml"}
TRAINS = {"train", "backtest"}  # commands that train: run with FAST's small network


def test_readme_usage_commands_run(tmp_path, monkeypatch):
    """Every README command whose files a test can provide runs, in order, on the bundled
    AirPassengers data (as data.csv and newer.csv): exit 0, no traceback."""
    for name in ("data.csv", "newer.csv"):
        shutil.copy(REPO / "examples" / "data" / "airpassengers.csv", tmp_path / name)
    monkeypatch.chdir(tmp_path)
    readme = README.read_text(encoding="utf-8")
    jobs = [args for block in code_blocks(readme)[2:] for line in block.splitlines()
            for args in rnnforecast_args(line)]  # fmt: skip
    runnable = [
        job for job in jobs
        if not any(a.startswith(("/", "--nproc")) or a.endswith((".csv", ".yaml", "/"))
                   and a not in PROVIDED for a in job)
    ]  # fmt: skip
    assert len(runnable) >= 12, runnable
    for job in runnable:
        fast = FAST if job[0] in TRAINS and "--help" not in job else []
        result = CliRunner().invoke(app, [*job, *fast])
        assert result.exit_code == 0, f"rnnforecast {shlex.join(job)}: {result.output}"
