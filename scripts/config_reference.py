"""Write ``docs/configuration.md``, the complete configuration reference, from the models.

    .venv/bin/python scripts/config_reference.py           # write docs/configuration.md
    .venv/bin/python scripts/config_reference.py --check   # exit 1 when it is stale

Every field of ``ConsentSettings``, ``Category`` and ``Service`` comes from the
models themselves: its name, its type in plain words, its default and limits
(``model_fields``), the ``CONSENT_*`` environment variable of each setting, and
the docstring written under the field in the source. Pydantic keeps no such
docstring unless a model sets ``use_attribute_docstrings``, so they are read
here from each class's source with ``ast``. The TOML and ``.env`` examples are
loaded through ``ConsentSettings`` before anything is written, so the page never
shows a configuration that does not start.

The same models give the same bytes: ``tests/test_config_reference.py`` fails
when the committed page is not what this script writes.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import itertools
import json
import os
import sys
import tempfile
import textwrap
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consent.category import Category  # noqa: E402
from consent.service import Service  # noqa: E402
from consent.settings import ConsentSettings  # noqa: E402

OUTPUT = ROOT / "docs" / "configuration.md"
COMMAND = "python scripts/config_reference.py"

TOML_EXAMPLE = """\
# consent.toml: read when the process is started with CONSENT_CONFIG=consent.toml
necessary_cookies = ["sessionid", "csrftoken"]
privacy_policy_url = "/privacy"
policy_revision = 2
cookie_secure = true
retention_days = 1490
geo_header = "cf-ipcountry"
geo_region_header = "cf-region-code"
default_regime = "opt-in"

[regimes]
EEA = "opt-in"
GB = "opt-in"
US-CA = "opt-out"
"*" = "none"

[texts.en]
banner_title = "Cookies on The Evening Ledger"

[import_cookies.cc_cookie]
analytics = "analytics"
ads = "marketing"

[[categories]]
key = "analytics"
title = "Analytics"
description = "Audience measurement: which articles are read, and how far."
cookies = ["_ga", "_ga_*"]
google_consent_types = ["analytics_storage"]
services = ["hotjar"]

[categories.titles]
de = "Statistik"
fr = "Mesure d'audience"

[[categories]]
key = "marketing"
title = "Advertising"
cookies = ["_fbp", "IDE"]
gpc_opt_out = true
google_consent_types = ["ad_storage", "ad_user_data", "ad_personalization"]

[[categories]]
key = "media"
title = "Videos"
description = "Embedded videos, played from their provider's servers."

[[categories.services]]
key = "youtube"
name = "YouTube"
provider = "Google Ireland Ltd."
cookies = ["YSC", "VISITOR_INFO1_LIVE"]
hosts = ["www.youtube-nocookie.com"]
retention = "6 months"
privacy_policy_url = "https://policies.google.com/privacy"
"""
"""A site's settings in TOML: tables for ``regimes``, ``texts`` and ``import_cookies``,
an array of tables for ``categories`` and for a category's ``services``."""

ENV_EXAMPLE = """\
CONSENT_SECRET_KEY=replace-with-the-output-of-secrets-token-urlsafe-48
CONSENT_OLD_SECRET_KEYS='["the-previous-key-kept-while-cookies-it-signed-live"]'
CONSENT_LOG_URL=postgresql://consent@db.internal/consent
"""
"""A ``.env`` file beside the TOML file: the secrets, and what differs per deployment."""


# Reading the models


def field_docstrings(model: type[BaseModel]) -> dict[str, str]:
    """The docstring written under each field of ``model`` and of the models it extends.

    A subclass's docstring wins over its base's for a field both declare. Fields
    without one are left out.
    """
    found: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not _declares_fields(cls):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        [class_node] = [node for node in tree.body if isinstance(node, ast.ClassDef)]
        body = class_node.body
        for statement, following in itertools.pairwise(body):
            if (
                isinstance(statement, ast.AnnAssign)
                and isinstance(statement.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                found[statement.target.id] = inspect.cleandoc(following.value.value)
    return found


def _declares_fields(cls: type) -> bool:
    """Whether ``cls`` is a model (not one of pydantic's bases) that declares fields."""
    return (
        isinstance(cls, type)
        and issubclass(cls, BaseModel)
        and cls not in (BaseModel, BaseSettings)
        and bool(inspect.get_annotations(cls))
    )


def type_text(annotation: Any) -> str:
    """A field's type in plain words, as a TOML or JSON writer sees it."""
    origin = get_origin(annotation)
    arguments = get_args(annotation)
    if origin is Annotated:
        return type_text(arguments[0])
    if origin is Literal:
        choices = [f"`{json.dumps(choice)}`" for choice in arguments]
        return choices[0] if len(choices) == 1 else ", ".join(choices[:-1]) + " or " + choices[-1]
    if origin in (Union, types.UnionType):
        kinds = [type_text(argument) for argument in arguments if argument is not type(None)]
        text = " or ".join(kinds)
        return f"{text} or `None`" if type(None) in arguments else text
    if origin in (tuple, list, set, frozenset):
        return f"list of {_plural(type_text(arguments[0]))}"
    if origin is dict:
        key, value = (type_text(argument) for argument in arguments)
        value = f"({value})" if " " in value else value
        return f"mapping of {key} to {value}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[`{annotation.__name__}`](#{annotation.__name__.lower()})"
    return _PLAIN_TYPES.get(annotation, f"`{getattr(annotation, '__name__', annotation)}`")


_PLAIN_TYPES: dict[Any, str] = {
    str: "string",
    SecretStr: "secret string",
    int: "integer",
    float: "number",
    bool: "boolean",
    date: "date (`YYYY-MM-DD`)",
    Path: "file path",
}


def _plural(kind: str) -> str:
    if kind in ("string", "secret string", "integer", "number", "boolean", "file path"):
        return kind + "s"
    return kind


def default_text(field: FieldInfo) -> str:
    """A field's default as a reader would write it; ``required`` when it has none."""
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True, validated_data={})
    return value_text(value)


def value_text(value: Any) -> str:
    """One value, written as in Python settings (lists as ``[...]``)."""
    if (
        isinstance(value, (tuple, list))
        and value
        and all(isinstance(item, BaseModel) and hasattr(item, "key") for item in value)
    ):
        return ", ".join(f"`{item.key}`" for item in value)
    if isinstance(value, (tuple, list)):
        return f"`{json.dumps(list(value))}`"
    if isinstance(value, Mapping):
        return f"`{json.dumps(dict(value))}`"
    if isinstance(value, str):
        return f"`{json.dumps(value)}`"
    if isinstance(value, date):
        return f"`{value.isoformat()}`"
    return f"`{value!r}`"


def limits_text(field: FieldInfo) -> str:
    """The limits pydantic checks on a field (length, range, pattern), in words; or ``""``."""
    limits: list[str] = []
    low: Any = None
    high: Any = None
    unit = "items" if get_origin(field.annotation) in (tuple, list) else "characters"
    for item in field.metadata:
        if isinstance(item, annotated_types.MinLen) and item.min_length == 1:
            limits.append("not empty")
        elif isinstance(item, annotated_types.MinLen) and item.min_length > 1:
            limits.append(f"at least {item.min_length} {unit}")
        elif isinstance(item, annotated_types.MaxLen):
            limits.append(f"at most {item.max_length} {unit}")
        elif isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.Le):
            high = item.le
        elif isinstance(item, annotated_types.Gt):
            limits.append(f"more than {item.gt}")
        elif isinstance(item, annotated_types.Lt):
            limits.append(f"less than {item.lt}")
        elif getattr(item, "pattern", None):
            limits.append(f"matches `{item.pattern}`")
    if low is not None and high is not None:
        limits.insert(0, f"{low} to {high}")
    elif low is not None:
        limits.insert(0, f"at least {low}")
    elif high is not None:
        limits.insert(0, f"at most {high}")
    return ", ".join(limits)


def environment_text(settings: type[BaseSettings], name: str, field: FieldInfo) -> str:
    """The environment variable of a setting, and how its value is written there."""
    prefix = settings.model_config.get("env_prefix") or ""
    variable = f"`{(prefix + (field.alias or name)).upper()}`"
    # The settings source's own rule: lists, mappings and models are read as JSON.
    if EnvSettingsSource(settings).field_is_complex(field):
        return f"{variable}, as JSON"
    return variable


def markdown_text(docstring: str) -> str:
    """A field docstring as Markdown: reST ````code```` becomes ```code```, lines one paragraph."""
    paragraphs = [" ".join(part.split()) for part in docstring.split("\n\n")]
    return "\n\n".join(paragraphs).replace("``", "`")


# Writing the page


def render_model(model: type[BaseModel], *, settings: type[BaseSettings] | None) -> str:
    """One model's section: an index table, then each field with its docstring.

    With ``settings``, each field also names its environment variable; headings
    are then the bare field names, else qualified by the model's name
    (``Category.key``), since the models share field names.
    """
    docstrings = field_docstrings(model)
    fields = model.model_fields
    name = model.__name__
    heading = {field: field if settings else f"{name}.{field}" for field in fields}
    lines = [f"## `{name}`", "", markdown_text(inspect.getdoc(model) or ""), ""]
    lines += ["| field | type | default |", "|---|---|---|"]
    for field_name, field in fields.items():
        anchor = heading[field_name].lower().replace(".", "")
        lines.append(
            f"| [`{field_name}`](#{anchor}) | {type_text(field.annotation)} "
            f"| {default_text(field)} |"
        )
    for field_name, field in fields.items():
        lines += ["", f"### `{heading[field_name]}`", ""]
        docstring = docstrings.get(field_name)
        if docstring:
            lines += [markdown_text(docstring).replace("|", "\\|"), ""]
        kind = type_text(field.annotation)
        limits = limits_text(field)
        lines.append(f"- Type: {kind}" + (f"; {limits}." if limits else "."))
        lines.append(f"- Default: {default_text(field)}.")
        if settings is not None:
            lines.append(f"- Environment: {environment_text(settings, field_name, field)}.")
    return "\n".join(lines) + "\n"


def render_reference(
    settings: type[ConsentSettings] = ConsentSettings,
    category: type[BaseModel] = Category,
    service: type[BaseModel] = Service,
) -> str:
    """The whole of ``docs/configuration.md`` for these models."""
    prefix = settings.model_config.get("env_prefix") or ""
    parts = [
        _INTRODUCTION.format(command=COMMAND, prefix=prefix),
        render_model(settings, settings=settings),
        _CROSS_CHECKS,
        render_model(category, settings=None),
        render_model(service, settings=None),
        _EXAMPLES.format(
            toml=TOML_EXAMPLE.rstrip("\n"), env=ENV_EXAMPLE.rstrip("\n"), command=COMMAND
        ),
    ]
    return "\n".join(parts)


_INTRODUCTION = """\
# Configuration reference

<!-- Written by `{command}` from consent/settings.py,
consent/category.py and consent/service.py: edit those, then run it. -->

Every setting of `consent`: each field of `ConsentSettings`, `Category` and
`Service`, with its type, default, limits and meaning, and the environment
variable of each setting. The README's tables are a short summary; this page is
complete. Which values keep a site compliant: [compliance.md](compliance.md);
regimes: [regimes.md](regimes.md); page caches: [caches.md](caches.md); the
consent log: [operations.md](operations.md).

## Where settings come from

`ConsentSettings` takes each field from the first of these that gives it:

1. keyword arguments: `ConsentSettings(secret_key=..., categories=[...])`;
2. environment variables, `{prefix}` and the field's name (any case):
   `{prefix}ACCEPT_DAYS=180`; lists, mappings and categories are written as
   JSON: `{prefix}NECESSARY_COOKIES='["session"]'`;
3. a `.env` file in the current directory, written as the environment;
4. the TOML file named by the environment variable `{prefix}CONFIG`
   (`{prefix}CONFIG=consent.toml`); a name that is not a file stops the start-up.

In the process's environment, a variable that names no setting is ignored. In
`.env`, lines without the `{prefix}` prefix (another program's variables) are
ignored too, but a `{prefix}` line that names no setting, a misspelt one, stops the
start-up (`Extra inputs are not permitted`). `{prefix}CONFIG` is read from the
process's environment only: set it there, not in `.env`.

Mappings (`texts`, `regimes`, `import_cookies`) are merged key by key across
these sources: a `{prefix}REGIMES` variable adds to the TOML file's `regimes`
and overrides its equal keys. Lists (`categories`, `necessary_cookies`, ...)
are taken whole from the first source that gives them.

`ConsentSettings()` reads these sources once, when it is built;
`ConsentMiddleware(app)` without `settings=` builds it with the middleware. A bad
value stops the application there, with a message that names the field. The
settings, categories and services are frozen: they do not change while the
application runs.
"""

_CROSS_CHECKS = """\
### Checks across fields

Besides each field's own limits, these are checked when the settings are built:

- category keys are unique, and none is `necessary` (built in: list its cookies in
  `necessary_cookies`);
- a service belongs to one category, and its key is not a category's key;
- a cookie pattern belongs to one category (or one service of a category): the
  same pattern in two, or a name in one that a glob of another matches, is an
  error; the consent cookie's own name counts as `necessary`;
- `geo_region_header` needs `geo_header`;
- every key in `texts` is a text of the banner; a locale that is not bundled
  gives every text; `locale` and `default_locale` are bundled or given in `texts`;
- `import_cookies` names only `cc_cookie` and `klaro`, each of its values a
  category or service key.
"""

_EXAMPLES = """\
## Example: a TOML file and a `.env` file

Settings that are the same on every deployment go in a TOML file; the secret
and what differs per deployment go in the environment or in `.env`.
`python -c "import secrets; print(secrets.token_urlsafe(48))"` makes a key.

`consent.toml`:

```toml
{toml}
```

`.env`, in the directory the application starts in:

```sh
{env}
```

Started with `CONSENT_CONFIG=consent.toml uvicorn mysite.asgi:application`, this
gives a site whose analytics category covers its own `_ga` cookies and Hotjar's
(a name from the
[catalogue](../README.md#services-the-cookie-catalogue-and-the-cookie-declaration)
brings its cookies), whose advertising Global Privacy Control opts out of, whose
YouTube videos can be allowed alone, which keeps the choices visitors made in a
vanilla-cookieconsent banner, and which applies opt-in consent in the EEA and
the United Kingdom, opt-out in California, none elsewhere, and opt-in where the
place is unknown.
`{command}` loads both files before it writes this page.
"""


# Checking the examples


@contextmanager
def isolated_environment(
    settings: type[BaseSettings], files: Mapping[str, str], variables: Mapping[str, str]
) -> Iterator[Path]:
    """A temporary current directory holding ``files``, with only ``variables`` of the
    settings' prefix in the environment; everything is restored on exit."""
    prefix = (settings.model_config.get("env_prefix") or "").upper()
    saved_environment = dict(os.environ)
    saved_directory = Path.cwd()
    with tempfile.TemporaryDirectory() as directory:
        try:
            for name in list(os.environ):
                if name.upper().startswith(prefix):
                    del os.environ[name]
            os.environ.update(variables)
            os.chdir(directory)
            for name, text in files.items():
                Path(directory, name).write_text(text, encoding="utf-8")
            yield Path(directory)
        finally:
            os.chdir(saved_directory)
            os.environ.clear()
            os.environ.update(saved_environment)


def load_examples(settings: type[ConsentSettings] = ConsentSettings) -> ConsentSettings:
    """``settings`` built from the page's TOML and ``.env`` examples, and nothing else.

    Raises pydantic's ``ValidationError`` (naming the field) when they do not load.
    """
    files = {"consent.toml": TOML_EXAMPLE, ".env": ENV_EXAMPLE}
    with isolated_environment(settings, files, {"CONSENT_CONFIG": "consent.toml"}):
        return settings()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the page is not what this script writes",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=OUTPUT,
        help=f"the page to write or check (default: {OUTPUT.relative_to(ROOT)})",
    )
    arguments = parser.parse_args(argv)
    output: Path = arguments.output.resolve()
    shown = output.relative_to(ROOT) if output.is_relative_to(ROOT) else output
    command = COMMAND if output == OUTPUT else f"{COMMAND} --output {shown}"
    load_examples()
    expected = render_reference()
    if arguments.check:
        current = output.read_text(encoding="utf-8") if output.is_file() else None
        if current != expected:
            state = "missing" if current is None else "out of date with the models"
            print(f"{shown} is {state}: run `{command}` and commit it", file=sys.stderr)
            return 1
        print(f"{shown} is up to date")
        return 0
    output.write_text(expected, encoding="utf-8")
    print(f"wrote {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
