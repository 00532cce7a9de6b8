"""``consent vcl``: print the Varnish configuration for the site's settings."""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError

from .cli_output import errors
from .settings import ConsentSettings
from .vcl import varnish_vcl


def load_settings(reference: str | None) -> ConsentSettings:
    """The site's settings: ``module:attribute`` (settings, or a function that makes
    them), or else from ``CONSENT_*`` variables, ``.env`` and ``CONSENT_CONFIG``."""
    if reference is None:
        return ConsentSettings()
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"--settings {reference!r}: expected module:attribute")
    found = getattr(importlib.import_module(module_name), attribute)
    settings = found() if callable(found) and not isinstance(found, ConsentSettings) else found
    if not isinstance(settings, ConsentSettings):
        raise ValueError(f"--settings {reference!r} is not ConsentSettings")
    return settings


def vcl(
    settings: Annotated[
        str | None,
        typer.Option(
            "--settings",
            help="module:attribute of the site's ConsentSettings (or of a function making "
            "them); default: CONSENT_* variables, .env and CONSENT_CONFIG.",
        ),
    ] = None,
    keep: Annotated[
        list[str] | None,
        typer.Option(
            "--keep",
            help="A category cookie (pattern as declared) the site reads to make its pages, "
            "such as a theme: requests with it are not served from the cache. Repeatable.",
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option(
            "--ignore",
            help="A necessary cookie (pattern as declared) that does not change the pages, "
            "such as a load balancer's: requests with it are served from the cache. Never "
            "a cookie that marks a signed-in reader. Repeatable.",
        ),
    ] = None,
) -> None:
    """Print the Varnish VCL for the site's cache_mode ("esi" or "shared")."""
    try:
        vcl_text = varnish_vcl(load_settings(settings), tuple(keep or ()), tuple(ignore or ()))
        sys.stdout.write(vcl_text)
    except ValidationError as error:
        message = "; ".join(
            f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}" for problem in error.errors()
        )
        _fail(message, error)
    except (ValueError, ImportError, AttributeError) as error:
        _fail(str(error), error)


def _fail(message: str, error: Exception) -> NoReturn:
    errors.print(f"[bold red]error:[/bold red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2) from error
