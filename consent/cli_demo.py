"""``consent demo``: the example article site, served with a SQLite consent log, and its
stand-in third parties served from a second origin, as a real site's trackers are."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, Annotated

import typer

from .cli_output import console

if TYPE_CHECKING:
    import uvicorn

_DEMO_PACKAGE = "consent_article_site"
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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


def _origin(host: str, port: int) -> str:
    """``http://host:port``, with an IPv6 address in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _listen(host: str, port: int, option: str) -> socket.socket:
    """A socket bound to ``host:port``, or the error that names ``option``: both servers'
    addresses are taken before either starts, so a busy port stops the demo cleanly."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise typer.BadParameter(
            f"cannot listen on {host} port {port}: {error.strerror or error}", param_hint=option
        ) from None
    return sock


async def serve_together(
    servers: Sequence[uvicorn.Server], sockets: Sequence[socket.socket]
) -> None:
    """Run each of ``servers`` on its socket in this event loop until SIGINT or SIGTERM,
    which stops all of them (a second Ctrl+C stops them without waiting for open
    connections).

    Each server leaves signals alone (see ``_servers``). With uvicorn's own handling,
    each server's handler would replace the one before and pass the signal on only once
    its server had stopped: one server after the other, then the process killed by the
    signal itself. Here both stop at once and the command ends normally.
    """

    def stop(signum: int, frame: FrameType | None) -> None:
        for server in servers:
            server.handle_exit(signum, frame)

    previous = {signum: signal.signal(signum, stop) for signum in _STOP_SIGNALS}
    try:
        await asyncio.gather(
            *(server.serve(sockets=[sock]) for server, sock in zip(servers, sockets, strict=True))
        )
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _servers(configs: Sequence[uvicorn.Config]) -> list[uvicorn.Server]:
    """Uvicorn servers that leave SIGINT and SIGTERM to ``serve_together``."""
    import uvicorn

    class SharedSignalServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return [SharedSignalServer(config) for config in configs]


def _listen_both(
    host: str, port: int, tracker_host: str, tracker_port: int | None
) -> list[socket.socket]:
    """The site's socket and the third parties', bound; the tracker port defaults to the
    next one (port 0 asks the system for any free port, for each)."""
    if tracker_port is None:
        tracker_port = port + 1 if port else 0
    if (tracker_host, tracker_port) == (host, port) and port:
        raise typer.BadParameter(
            "the third parties need an origin of their own: another port or host",
            param_hint="--tracker-port",
        )
    site = _listen(host, port, "--port")
    try:
        return [site, _listen(tracker_host, tracker_port, "--tracker-port")]
    except typer.BadParameter:
        site.close()
        raise


def demo(
    host: Annotated[str, typer.Option(help="Interface of the article site.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the article site (0: any free port).")] = 8000,
    tracker_host: Annotated[
        str | None,
        typer.Option(
            help="Interface of the third parties (default: --host). Another loopback "
            "address, such as 127.0.0.2 on Linux, makes them another site too."
        ),
    ] = None,
    tracker_port: Annotated[
        int | None,
        typer.Option(help="Port of the third parties (default: --port + 1; 0: any free port)."),
    ] = None,
    db: Annotated[
        str, typer.Option("--db", help="Consent log database URL.", envvar="CONSENT_LOG_URL")
    ] = "sqlite:///consent-demo.db",
) -> None:
    """Run the example article site with a SQLite consent log, and its stand-in trackers
    and video players on a second origin, as a real site loads them."""
    import uvicorn

    tracker_host = tracker_host or host
    sockets = _listen_both(host, port, tracker_host, tracker_port)
    try:
        # The origins name the ports bound, which port 0 leaves to the system.
        port, tracker_port = (int(sock.getsockname()[1]) for sock in sockets)
        tracker_origin = _origin(tracker_host, tracker_port)
        site = load_demo_site().create_app(
            log_url=db, tracker_origin=tracker_origin, freeze_startup_heap=True
        )
        trackers = importlib.import_module(f"{_DEMO_PACKAGE}.thirdparty").create_tracker_app()
        url = f"{_origin(host, port)}/"
        console.print(f"[bold]consent demo[/bold]: article site at [link={url}]{url}[/link]")
        console.print(f"third parties (a second origin) at {tracker_origin}/")
        console.print(f"consent log: {db}    (Ctrl+C to stop)")
        servers = _servers(
            [
                uvicorn.Config(site, host=host, port=port, log_level="warning"),
                uvicorn.Config(
                    trackers,
                    host=tracker_host,
                    port=tracker_port,
                    log_level="warning",
                    lifespan="off",
                ),
            ]
        )
        asyncio.run(serve_together(servers, sockets))
    finally:
        for sock in sockets:
            sock.close()
