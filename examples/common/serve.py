"""What ``python -m examples.<name>`` runs: one example site, served by uvicorn, with its log."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import uvicorn

HOST = "127.0.0.1"
DEFAULT_PORT = "8000"


def serve(app_path: str, name: str) -> None:
    """Serve the ASGI application ``app_path`` (``"module:attribute"``) on 127.0.0.1.

    ``name`` is the example's folder (``"fastapi_blog"``). The port is ``PORT``
    (8000 by default). The consent log is ``CONSENT_LOG_URL``, else the SQLite file
    ``consent-<name>.db`` (``consent-fastapi-blog.db``) in the temporary directory.
    Without ``CONSENT_SECRET_KEY`` the site signs its cookies with the demo key,
    and says so.
    """
    port = _port()
    default_log = Path(tempfile.gettempdir()) / f"consent-{name.replace('_', '-')}.db"
    log_url = os.environ.get("CONSENT_LOG_URL") or f"sqlite:///{default_log}"
    # Set before uvicorn imports the application, which reads it then.
    os.environ["CONSENT_LOG_URL"] = log_url
    if not os.environ.get("CONSENT_SECRET_KEY"):
        print("Signing with the demo-only key: set CONSENT_SECRET_KEY outside a demo.")
    print(f"consent log: {log_url}    (consent log --db URL lists its events)")
    print(f"examples.{name}: http://{HOST}:{port}/    (Ctrl+C to stop)", flush=True)
    # The lifespan is what opens the consent log at start-up and closes it at shutdown.
    uvicorn.run(app_path, host=HOST, port=port, log_level="warning", lifespan="on")


def _port() -> int:
    text = os.environ.get("PORT") or DEFAULT_PORT
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise SystemExit(f"PORT must be a port number, got {text!r}")
    return int(text)
