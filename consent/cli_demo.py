"""``consent demo``: the example article site, served with a SQLite consent log."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer

from .cli_output import console

_DEMO_PACKAGE = "consent_article_site"


def _demo_directory() -> Path:
    """The article-site example: inside the installed package, or in the checkout."""
    here = Path(__file__).parent
    for candidate in (
        here / "examples" / "article_site",
        here.parent / "examples" / "article_site",
    ):
        if (candidate / "app.py").is_file():
            return candidate
    raise FileNotFoundError("the article-site example is not installed with this package")


def load_demo_site() -> ModuleType:
    """Import the article-site example's ``app`` module, wherever it is installed."""
    if f"{_DEMO_PACKAGE}.app" in sys.modules:
        return sys.modules[f"{_DEMO_PACKAGE}.app"]
    directory = _demo_directory()
    spec = importlib.util.spec_from_file_location(
        _DEMO_PACKAGE, directory / "__init__.py", submodule_search_locations=[str(directory)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the demo site from {directory}")
    package = importlib.util.module_from_spec(spec)
    sys.modules[_DEMO_PACKAGE] = package
    spec.loader.exec_module(package)
    return importlib.import_module(f"{_DEMO_PACKAGE}.app")


def demo(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db: Annotated[
        str, typer.Option("--db", help="Consent log database URL.", envvar="CONSENT_LOG_URL")
    ] = "sqlite:///consent-demo.db",
) -> None:
    """Run the example article site with a SQLite consent log."""
    import uvicorn

    site = load_demo_site()
    application = site.create_app(log_url=db, freeze_startup_heap=True)
    url = f"http://{host}:{port}/"
    console.print(f"[bold]consent demo[/bold]: article site at [link={url}]{url}[/link]")
    console.print(f"consent log: {db}    (Ctrl+C to stop)")
    uvicorn.run(application, host=host, port=port, log_level="warning")
