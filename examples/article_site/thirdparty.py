"""Stand-ins for the third parties a news site embeds: analytics, an ad network, a video host.

The site mounts this app at `/thirdparty` so the demo works offline; browser
tests run it alone on a second origin, so that "no request reached a tracker
before consent" can be checked against a real cross-origin server.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

FILES = Path(__file__).parent / "tracker_files"

# The smallest transparent 1x1 GIF (43 bytes), as served by tracking pixels.
PIXEL_GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)

# Trackers ask not to be cached so that every page view reaches them.
NO_STORE = {"Cache-Control": "no-store"}


def _file_endpoint(name: str, media_type: str, headers: dict[str, str] | None = None) -> Route:
    # Read once at start-up: the files are tiny and never change while running.
    body = (FILES / name).read_bytes()

    async def serve(request: Request) -> Response:
        return Response(body, media_type=media_type, headers=headers)

    return Route(f"/{name}", serve, methods=["GET"], name=name)


def create_tracker_app() -> Starlette:
    """The third-party server: `analytics.js`, `ads.js`, `pixel.gif` and `video.html`."""

    async def pixel(request: Request) -> Response:
        return Response(PIXEL_GIF, media_type="image/gif", headers=NO_STORE)

    return Starlette(
        routes=[
            _file_endpoint("analytics.js", "application/javascript", NO_STORE),
            _file_endpoint("ads.js", "application/javascript", NO_STORE),
            Route("/pixel.gif", pixel, methods=["GET"], name="pixel.gif"),
            _file_endpoint("video.html", "text/html"),
            _file_endpoint("video.css", "text/css"),
        ]
    )
