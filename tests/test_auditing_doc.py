"""docs/auditing.md shows real outputs: its worked example is run here, command by command.

``scripts/audit_example.py`` writes the example's log into a temporary directory,
then every ``sh`` block of the guide that runs a command (``consent ...``,
``sqlite3 ...``) is run there, in the guide's order (the purge comes after the
listings, as in the guide), with the guide's ``CONSENT_LOG_URL`` and a 120-column
terminal: a plain ``consent`` command through the command's own Typer app in this
process, anything with a pipe, a redirection or another program through bash. Each
must end with the exit status the guide gives it, and every line of the ``text``
block that follows it must be a line of the real output, once what changes from
run to run is set aside: consent ids and notice hashes are taken from the
script's output (the guide's ids become this run's, in its commands too), a chain
head printed by ``consent verify`` becomes this run's head in later commands, and
event ids, other hashes, timings and the cookie inventory's times (the time the
script ran) are compared as placeholders. Lines with ``…`` are the guide's cuts."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from consent.cli import app

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "auditing.md"
SCRIPT_COMMAND = ".venv/bin/python scripts/audit_example.py audit.db"
COLUMNS = "120"

EXIT_STATUS = {
    "consent verify --db sqlite:///tampered.db": 1,
    "consent log --consent-id 00000000000000000000ab": 1,
    "consent purge --before 2026-11-24": 1,
}
"""Commands the guide shows failing, by their first line: every other one must succeed."""

RUNNABLE = (".venv/", "consent ", "sqlite3 ", "PYTHONPATH=")
"""How the guide's blocks that run something begin (others set the scene: export, ...)."""
ANSWER = "n\n"
"""What the guide types at purge's question."""

_SHELL = re.compile(r"[|<>;&$`]")
_BLOCK = re.compile(r"```(\w*)\n(.*?)\n```", re.S)
_CONSENT_ID = re.compile(r"^(\w+)\s+\S+\s+([A-Za-z0-9_-]{22})\s", re.M)
_SHA256 = re.compile(r"\b[0-9a-f]{64}\b")
_HEAD = re.compile(r"head seq (\d+) hash ([0-9a-f]{64})")
_VOLATILE = (
    (re.compile(r"\b[0-9a-f]{64}\b"), "<sha256>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<event id>"),
    (re.compile(r"in \d+\.\d+ s \([\d,]+ events/s\)"), "in <seconds> s (<rate> events/s)"),
    (re.compile(r"no event before \S+"), "no event before <cutoff>"),
)
_SIGHTING_TIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+Z)?")


@dataclass(frozen=True)
class Step:
    """A command block of the guide and the output it shows (None: none shown)."""

    command: str
    shown: str | None

    @property
    def first_line(self) -> str:
        return self.command.splitlines()[0]


def guide_steps() -> list[Step]:
    """The guide's sh blocks that run something, each with the text block right after it."""
    text = GUIDE.read_text(encoding="utf-8")
    blocks = list(_BLOCK.finditer(text))
    steps = []
    for index, block in enumerate(blocks):
        language, body = block.group(1), block.group(2)
        if language != "sh" or not body.startswith(RUNNABLE):
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        shown = None
        if (
            following is not None
            and following.group(1) == "text"
            and not text[block.end() : following.start()].strip()
        ):
            shown = following.group(2)
        steps.append(Step(body, shown))
    return steps


STEPS = guide_steps()


def log_url_of_the_guide() -> str:
    """The ``CONSENT_LOG_URL`` the guide exports before its commands."""
    found = re.search(r"^export CONSENT_LOG_URL=(\S+)$", GUIDE.read_text(encoding="utf-8"), re.M)
    assert found is not None, "the guide exports CONSENT_LOG_URL"
    return found.group(1)


@dataclass
class Run:
    """What one step printed (stdout and stderr, as a terminal shows them) and its status."""

    output: str
    status: int


class Walk:
    """The guide's example, run in a directory: the script first, then every step in order."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # The guide's commands name .venv/bin/python and scripts/ from the repository root.
        (directory / ".venv").symlink_to(Path(sys.executable).parent.parent)
        (directory / "scripts").symlink_to(ROOT / "scripts")
        self.environment = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "CONSENT_LOG_URL": log_url_of_the_guide(),
            "COLUMNS": COLUMNS,
            "TERM": "dumb",
        }
        self.environment.pop("PYTHONPATH", None)
        self.replacements: dict[str, str] = {}
        """Guide value → this run's value: consent ids, notice hashes, chain heads."""
        self.runs: dict[int, Run] = {}

    def run_all(self) -> None:
        first = STEPS[0]
        assert first.command.startswith(SCRIPT_COMMAND), "the guide starts with the script"
        self.runs[0] = self.run(first)
        assert first.shown is not None
        self.learn_from_script(first.shown, self.runs[0].output)
        for index, step in enumerate(STEPS[1:], start=1):
            run = self.runs[index] = self.run(step)
            if step.shown is not None:
                self.learn_heads(step.shown, run.output)

    def run(self, step: Step) -> Run:
        """One step: a plain ``consent`` command in this process (each new Python process
        spends seconds importing), anything else through bash."""
        command = self.in_this_run(step.command)
        if command.startswith("consent ") and not _SHELL.search(command):
            return self.run_consent(shlex.split(command)[1:])
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=self.directory,
            env=self.environment,
            input=ANSWER,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
            check=False,
        )
        # A terminal echoes the typed answer after the question.
        return Run(result.stdout.replace("[y/N]: ", f"[y/N]: {ANSWER}"), result.returncode)

    def run_consent(self, arguments: list[str]) -> Run:
        """``consent ARGUMENTS`` as the command runs them, in the walk's directory."""
        environment = {name: self.environment[name] for name in ("CONSENT_LOG_URL", "COLUMNS")}
        here = Path.cwd()
        os.chdir(self.directory)
        try:
            # The runner echoes the answer after the question, as a terminal does.
            result = CliRunner().invoke(app, arguments, env=environment, input=ANSWER)
        finally:
            os.chdir(here)
        return Run(result.output, result.exit_code)

    def in_this_run(self, text: str) -> str:
        for guide_value, run_value in self.replacements.items():
            text = text.replace(guide_value, run_value)
        return text

    def learn_from_script(self, shown: str, printed: str) -> None:
        """The script's consent ids and notice hashes: the guide's, then this run's, in order."""
        shown_ids, printed_ids = _CONSENT_ID.findall(shown), _CONSENT_ID.findall(printed)
        assert [name for name, _ in shown_ids] == [name for name, _ in printed_ids]
        self.replacements.update(
            (ours, theirs) for (_, ours), (_, theirs) in zip(shown_ids, printed_ids, strict=True)
        )
        shown_hashes, printed_hashes = _SHA256.findall(shown), _SHA256.findall(printed)
        assert len(shown_hashes) == len(printed_hashes)
        self.replacements.update(zip(shown_hashes, printed_hashes, strict=True))

    def learn_heads(self, shown: str, printed: str) -> None:
        """A chain head the guide prints is used by a later command (``--checkpoint``)."""
        for (seq, ours), (printed_seq, theirs) in zip(
            _HEAD.findall(shown), _HEAD.findall(printed), strict=False
        ):
            if seq == printed_seq:
                self.replacements.setdefault(ours, theirs)


def comparable(text: str, command: str) -> list[str]:
    """The lines of an output with what changes from run to run made placeholders."""
    for pattern, placeholder in _VOLATILE:
        text = pattern.sub(placeholder, text)
    if command.startswith("consent cookies"):
        text = _SIGHTING_TIME.sub("<time>", text)
    return [line.rstrip() for line in text.splitlines()]


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Walk:
    walk = Walk(tmp_path_factory.mktemp("auditing"))
    walk.run_all()
    return walk


@pytest.mark.parametrize("index", range(len(STEPS)), ids=[step.first_line[:60] for step in STEPS])
def test_each_command_of_the_guide_prints_what_it_shows(walk: Walk, index: int) -> None:
    step, run = STEPS[index], walk.runs[index]
    expected_status = EXIT_STATUS.get(step.first_line, 0)
    assert run.status == expected_status, run.output
    if step.shown is None:
        return
    real = set(comparable(run.output, step.first_line))
    shown = comparable(walk.in_this_run(step.shown), step.first_line)
    missing = [line for line in shown if line.strip() and "…" not in line and line not in real]
    assert not missing, f"shown in the guide, not printed:\n{missing}\n\nprinted:\n{run.output}"


def test_the_guide_walks_through_every_command_and_option_of_the_log() -> None:
    commands = [step.command for step in STEPS]
    for name in ("log", "verify", "stats", "purge", "cookies", "notice", "vcl"):
        assert any(re.match(rf"(\S+=\S+ )*consent {name}\b", c) for c in commands), name
    log_command = typer.main.get_command(app).commands["log"]  # type: ignore[attr-defined]
    options = {option for param in log_command.params for option in param.opts}
    options -= {"--help", "--db"}  # --db: the guide's CONSENT_LOG_URL, shown once with verify
    shown = " ".join(c for c in commands if c.startswith("consent log"))
    assert not [option for option in sorted(options) if option not in shown]
    stats = [c for c in commands if c.startswith("consent stats")]
    assert "consent stats" in stats
    for option in ("--format csv", "--format json", "--html"):
        assert any(option in c for c in stats), option
    assert any("--retention-days" in c for c in commands)


def test_the_report_the_guide_writes_is_self_contained(walk: Walk) -> None:
    report = (walk.directory / "audit-report.html").read_text(encoding="utf-8")
    assert "<svg" in report
    assert not re.search(r"<script|<link|src=", report)
