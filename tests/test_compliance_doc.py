"""docs/compliance.md stays true to the code: its settings exist, its defaults are
the models', and every file, test, link and anchor it points to is there."""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from consent import Category, ConsentSettings, Service
from consent.category import MAX_CONSENT_DAYS
from consent.log import ACTIONS, MECHANISMS, ConsentEvent
from consent.names import GOOGLE_CONSENT_TYPES
from consent.state import ConsentState
from tests.conftest import make_settings

ROOT = Path(__file__).parent.parent
DOC = ROOT / "docs" / "compliance.md"
TABLE_HEADING = "## Settings, what they are for, and the rule behind them"
MODELS: dict[str, type[BaseModel]] = {
    "ConsentSettings": ConsentSettings,
    "Category": Category,
    "Service": Service,
}
FIELDS = frozenset(field for model in MODELS.values() for field in model.model_fields)

_FENCE = re.compile(r"^```.*?^```[ \t]*$", re.S | re.M)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
_ASSIGNMENT = re.compile(r"([a-z][a-z0-9]*(?:_[a-z0-9]+)+)=\S")
_QUALIFIED = re.compile(r"\b(ConsentSettings|Category|Service)\.([a-z_][a-z0-9_]*)\b")
_REPOSITORY_PATH = re.compile(
    r"(?<![\w./-])((?:consent|docs|examples|static|tests|scripts|bench)/[\w./:-]+)"
)

OTHER_NAMES = frozenset(
    {
        *ACTIONS,
        *MECHANISMS,
        *GOOGLE_CONSENT_TYPES,
        *(field.name for field in dataclasses.fields(ConsentEvent)),
        *(field.name for field in dataclasses.fields(ConsentState)),
        "security_storage",  # the Consent Mode type that is always granted
        "site_analytics",  # the example site's own analytics cookie
        "cc_cookie",  # vanilla-cookieconsent's cookie
    }
)
"""Names in code spans that look like settings but are something else the guide
speaks of; any other snake_case name must be a field of one of the models."""


def guide() -> str:
    return DOC.read_text(encoding="utf-8")


def prose(markdown: str) -> str:
    """The text outside fenced code blocks: commands and their outputs are not claims."""
    return _FENCE.sub("", markdown)


def code_spans(markdown: str) -> Iterator[str]:
    yield from _CODE_SPAN.findall(prose(markdown))


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every heading's anchor in a Markdown file, repeated headings numbered as GitHub does."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in prose(markdown).splitlines():
        match = re.match(r"#{1,6} +(.*?)\s*#*\s*$", line)
        if match:
            anchor = slug(match.group(1))
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def link_resolves(target: str) -> bool:
    """Whether a relative link of the guide names a file that exists, and its anchor a heading."""
    path, _, anchor = target.partition("#")
    file = (DOC.parent / path).resolve() if path else DOC
    if not file.is_file():
        return False
    return not anchor or anchor in anchors(file.read_text(encoding="utf-8"))


def reference_exists(reference: str) -> bool:
    """Whether ``tests/x.py``, ``consent/log/`` or ``tests/x.py::test_y`` is in the repository."""
    path, _, test_name = reference.partition("::")
    file = ROOT / path.rstrip(".")
    if not file.exists():
        return False
    pattern = rf"^(?:async )?def {re.escape(test_name)}\("
    return not test_name or re.search(pattern, file.read_text(encoding="utf-8"), re.M) is not None


def table_rows(markdown: str) -> list[dict[str, str]]:
    """The rows of the settings table, by column name."""
    section = markdown.split(TABLE_HEADING, 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [
        dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
        for line in lines[2:]
    ]


def field_of(setting: str) -> tuple[str, FieldInfo]:
    """``accept_days`` (of ConsentSettings), ``Category.title``, ``Service.retention``."""
    model_name, _, field = setting.rpartition(".")
    return field, MODELS[model_name or "ConsentSettings"].model_fields[field]


def stated_default(field: str, cell: str) -> Any:
    """What the table says a default is: ``required``, a `literal`, or category keys."""
    if cell == "required":
        return cell
    if field == "categories":
        return [key.strip() for key in cell.split(",")]
    literal = re.fullmatch(r"`([^`]+)`", cell)
    if literal is None:
        raise AssertionError(f"{field}: the default {cell!r} is neither `a literal` nor required")
    text = literal.group(1)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return datetime.date.fromisoformat(text)
    words = {"None": None, "True": True, "False": False}
    return words[text] if text in words else json.loads(text)


def model_default(field: str, info: FieldInfo) -> Any:
    """The model's default as the table writes it: tuples as lists, categories by key."""
    if info.is_required():
        return "required"
    factory = info.default_factory
    value = factory() if factory is not None else info.default  # type: ignore[call-arg]
    if field == "categories":
        return [category.key for category in value]
    return list(value) if isinstance(value, tuple) else value


def test_the_table_gives_every_field_of_the_models_once() -> None:
    named = [row["setting"].strip("`") for row in table_rows(guide())]
    expected = [
        f"{prefix}{field}"
        for prefix, model in (("", ConsentSettings), ("Category.", Category), ("Service.", Service))
        for field in model.model_fields
    ]
    assert sorted(named) == sorted(expected)


@pytest.mark.parametrize("row", table_rows(guide()), ids=lambda row: row["setting"].strip("`"))
def test_each_default_in_the_table_is_the_models(row: dict[str, str]) -> None:
    field, info = field_of(row["setting"].strip("`"))
    assert stated_default(field, row["default"]) == model_default(field, info)
    assert row["what it is for"]
    assert row["the rule"]


def test_every_setting_the_guide_names_exists() -> None:
    unknown = []
    for span in code_spans(guide()):
        unknown += [
            span
            for model_name, field in _QUALIFIED.findall(span)
            if field not in MODELS[model_name].model_fields
        ]
        assignment = _ASSIGNMENT.match(span)
        if assignment and assignment.group(1) not in FIELDS:
            unknown.append(span)
        if _SNAKE_CASE.fullmatch(span) and span not in FIELDS | OTHER_NAMES:
            unknown.append(span)
    assert unknown == []


def test_the_stated_lifetime_bound_is_the_one_enforced() -> None:
    stated = {int(days) for days in re.findall(r"\b1 to (\d+) days\b", guide())}
    assert stated == {MAX_CONSENT_DAYS}
    for field in ("accept_days", "reject_days"):
        assert getattr(make_settings(**{field: MAX_CONSENT_DAYS}), field) == MAX_CONSENT_DAYS
        for refused in (0, MAX_CONSENT_DAYS + 1):
            with pytest.raises(ValidationError, match=field):
                make_settings(**{field: refused})


def test_every_link_and_anchor_resolves() -> None:
    relative = [
        target for target in _LINK.findall(prose(guide())) if not re.match(r"[a-z]+:", target)
    ]
    assert relative
    assert [target for target in relative if not link_resolves(target)] == []


def test_every_file_and_test_the_guide_names_exists() -> None:
    references = [ref for span in code_spans(guide()) for ref in _REPOSITORY_PATH.findall(span)]
    assert any("::test_" in reference for reference in references)
    assert [reference for reference in references if not reference_exists(reference)] == []


def test_the_guide_says_first_that_it_is_not_legal_advice() -> None:
    assert "**Not legal advice.**" in guide().split("\n## ", 1)[0]


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        (
            "## Settings, what they are for, and the rule behind them",
            "settings-what-they-are-for-and-the-rule-behind-them",
        ),
        ("### `/.well-known/gpc.json`", "well-knowngpcjson"),
        ("## `REGIMES_RECOMMENDED`", "regimes_recommended"),
        ("### Opt-out: US states in force by 2026", "opt-out-us-states-in-force-by-2026"),
        ("## [A link](https://example.com) in a heading", "a-link-in-a-heading"),
    ],
)
def test_anchors_are_made_as_github_makes_them(heading: str, anchor: str) -> None:
    assert anchors(f"{heading}\n") == {anchor}


def test_a_repeated_heading_gets_a_numbered_anchor_and_code_blocks_none() -> None:
    markdown = "## Check it\n\n```ini\n# not a heading\n```\n\n## Check it\n"
    assert anchors(markdown) == {"check-it", "check-it-1"}
