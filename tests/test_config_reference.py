"""``docs/configuration.md`` is what ``scripts/config_reference.py`` writes from the models."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from consent import Category, ConsentSettings, Service

ROOT = Path(__file__).parent.parent
SCRIPT = ROOT / "scripts" / "config_reference.py"
REFERENCE = ROOT / "docs" / "configuration.md"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("config_reference", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


script = _load_script()


def render(**models: type[BaseModel]) -> str:
    page: str = script.render_reference(**models)
    return page


def run_script(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *arguments], capture_output=True, text=True, check=False
    )


def section(page: str, heading: str) -> str:
    """The text under ``### heading`` up to the next heading."""
    after = page.split(f"\n### {heading}\n", 1)[1]
    return after.split("\n#", 1)[0]


class SettingsWithDelay(ConsentSettings):
    """Settings with one more field than the package's."""

    banner_delay_ms: int = Field(default=0, ge=0)
    """How long the banner waits before it shows."""


class CategoryWithIcon(Category):
    """A category with one more field than the package's."""

    icon: str = ""
    """The icon shown beside the title."""


class DocumentedModel(BaseModel):
    """A model whose docstrings pydantic itself reads, to compare with the script's."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    plain: int = 0
    """One line."""
    undocumented: str = ""
    long: str = ""
    """First line,
    and an indented second one."""


class DocumentedSubclass(DocumentedModel):
    """Overrides one docstring and adds a field."""

    long: str = "x"
    """Said again by the subclass."""
    extra: bool = False
    """Added by the subclass."""


def test_committed_reference_is_what_the_script_writes() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is stale: run `python scripts/config_reference.py`"
    )


def test_the_script_writes_the_same_bytes_twice(tmp_path: Path) -> None:
    first, second = tmp_path / "first.md", tmp_path / "second.md"
    assert run_script("--output", str(first)).returncode == 0
    assert run_script("--output", str(second)).returncode == 0
    assert first.read_bytes() == second.read_bytes() == REFERENCE.read_bytes()


def test_check_passes_on_the_committed_page() -> None:
    result = run_script("--check")
    assert (result.returncode, result.stdout) == (0, "docs/configuration.md is up to date\n")


@pytest.mark.parametrize(
    ("edit", "state"), [("\nedited by hand\n", "out of date"), (None, "missing")]
)
def test_check_fails_with_a_clear_message(tmp_path: Path, edit: str | None, state: str) -> None:
    target = tmp_path / "configuration.md"
    if edit is not None:
        target.write_text(REFERENCE.read_text(encoding="utf-8") + edit, encoding="utf-8")
    result = run_script("--check", "--output", str(target))
    assert result.returncode == 1
    assert f"{target} is {state}" in result.stderr
    assert f"run `python scripts/config_reference.py --output {target}`" in result.stderr
    assert result.stdout == ""


def test_a_new_settings_field_changes_the_reference() -> None:
    page = render(settings=SettingsWithDelay)
    assert page != REFERENCE.read_text(encoding="utf-8")
    assert "| [`banner_delay_ms`](#banner_delay_ms) | integer | `0` |" in page
    assert section(page, "`banner_delay_ms`") == (
        "\nHow long the banner waits before it shows.\n\n"
        "- Type: integer; at least 0.\n"
        "- Default: `0`.\n"
        "- Environment: `CONSENT_BANNER_DELAY_MS`.\n"
    )
    # The fields it inherits keep their docstrings, read from ConsentSettings' source.
    assert section(page, "`secret_key`").startswith("\nSigns the consent cookie.")


def test_a_new_category_field_changes_the_reference() -> None:
    page = render(category=CategoryWithIcon)
    assert page != REFERENCE.read_text(encoding="utf-8")
    assert section(page, "`CategoryWithIcon.icon`") == (
        '\nThe icon shown beside the title.\n\n- Type: string.\n- Default: `""`.\n'
    )


def test_docstrings_are_read_as_pydantic_reads_them() -> None:
    for model in (DocumentedModel, DocumentedSubclass):
        expected = {
            name: field.description
            for name, field in model.model_fields.items()
            if field.description is not None
        }
        assert script.field_docstrings(model) == expected
    assert script.field_docstrings(DocumentedSubclass)["long"] == "Said again by the subclass."


@pytest.mark.parametrize("model", [ConsentSettings, Category, Service], ids=lambda m: m.__name__)
def test_every_field_has_a_docstring(model: type[BaseModel]) -> None:
    assert sorted(script.field_docstrings(model)) == sorted(model.model_fields)


def test_every_setting_names_the_variable_the_settings_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = render()
    for name in ConsentSettings.model_fields:
        assert f"- Environment: `CONSENT_{name.upper()}`" in section(page, f"`{name}`"), name
    # Two of them, read for real: a plain value and a JSON one.
    monkeypatch.setenv("CONSENT_SECRET_KEY", "k" * 32)
    monkeypatch.setenv("CONSENT_ACCEPT_DAYS", "30")
    monkeypatch.setenv("CONSENT_REGIMES", '{"US-CA": "opt-out"}')
    settings = ConsentSettings(log_url=None)
    assert (settings.accept_days, settings.regimes) == (30, {"US-CA": "opt-out"})
    assert "- Environment: `CONSENT_REGIMES`, as JSON." in page
    assert "- Environment: `CONSENT_ACCEPT_DAYS`.\n" in page


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("`secret_key`", "- Type: secret string; at least 32 characters.\n- Default: required."),
        ("`accept_days`", "- Type: integer; 1 to 395.\n- Default: `365`."),
        ("`categories`", "- Default: `preferences`, `analytics`, `marketing`."),
        ("`cache_mode`", '- Type: `"vary"`, `"esi"` or `"shared"`.\n- Default: `"vary"`.'),
        ("`log_url`", '- Type: string or `None`.\n- Default: `"sqlite:///consent-log.db"`.'),
        ("`gpc_last_update`", "- Type: date (`YYYY-MM-DD`).\n- Default: `2026-11-25`."),
        ("`Category.key`", "- Type: string; matches `^[a-z][a-z0-9_-]{0,31}$`."),
        ("`Category.title`", "- Type: string; not empty, at most 80 characters."),
        ("`Category.services`", "- Type: list of [`Service`](#service).\n- Default: `[]`."),
        ("`Service.hosts`", "- Type: list of strings.\n- Default: `[]`."),
    ],
)
def test_types_defaults_and_limits_are_the_models(heading: str, expected: str) -> None:
    assert expected in section(render(), heading)


def test_literal_types_list_their_choices() -> None:
    assert script.type_text(Literal["a"]) == '`"a"`'
    assert script.type_text(Literal["a", "b", "c"]) == '`"a"`, `"b"` or `"c"`'
    assert script.type_text(dict[str, tuple[int, ...]]) == "mapping of string to (list of integers)"


def test_the_examples_load_and_nothing_else_does(monkeypatch: pytest.MonkeyPatch) -> None:
    # The variables of whoever runs the script must not leak into the examples.
    monkeypatch.setenv("CONSENT_ACCEPT_DAYS", "7")
    monkeypatch.setenv("CONSENT_CATEGORIES", "[]")
    settings = script.load_examples()
    assert settings.accept_days == 365
    assert settings.category_keys == ("analytics", "marketing", "media")
    assert settings.service_categories == {"hotjar": "analytics", "youtube": "media"}
    assert settings.secret_key.get_secret_value().startswith("replace-with-")  # from .env
    assert settings.log_url == "postgresql://consent@db.internal/consent"  # from .env
    assert settings.regimes["US-CA"] == "opt-out"  # from the TOML file
    page = REFERENCE.read_text(encoding="utf-8")
    assert f"```toml\n{script.TOML_EXAMPLE}```" in page
    assert f"```sh\n{script.ENV_EXAMPLE}```" in page


def test_the_readme_links_the_complete_reference() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    reference = readme.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    assert "(docs/configuration.md)" in reference
