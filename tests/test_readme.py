"""The README keeps its promises: two commands first, every setting documented."""

from __future__ import annotations

import re
from pathlib import Path

from consent import Category, ConsentSettings

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_starts_with_the_demo_and_test_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    assert README.startswith("# consent\n\n```sh\n")
    assert blocks[0].endswith("consent demo")
    assert blocks[1] == "./scripts/test"


def test_ci_runs_the_readme_test_command() -> None:
    test_command = re.findall(r"```sh\n(.*?)\n```", README, re.S)[1]
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_every_setting_is_in_the_configuration_reference() -> None:
    reference = README.split("## Configuration reference", 1)[1]
    for name in [*ConsentSettings.model_fields, *Category.model_fields]:
        assert f"| `{name}` |" in reference, name
