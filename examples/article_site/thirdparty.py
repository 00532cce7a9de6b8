"""Stand-ins for the third parties a news site embeds: analytics, an ad network, two video hosts.

`consent demo` and the browser tests run this app on a second origin (another
port or loopback address), as a real site loads its trackers, so that "no request
reached a tracker before consent" can be checked against a real cross-origin
server. A site made with no tracker origin mounts it at `/thirdparty` instead, so
the example works in a single process too.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

FILES = Path(__file__).parent / "tracker_files"

# The smallest transparent 1x1 GIF (43 bytes), as served by tracking pixels.
PIXEL_GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)

# Trackers ask not to be cached so that every page view reaches them.
NO_STORE = {"Cache-Control": "no-store"}

PROVIDERS: dict[str, tuple[str, str]] = {
    "quayside-metrics": ("Quayside Metrics Ltd.", "the measurement script analytics.js"),
    "lanternfish-ads": ("Lanternfish Advertising Ltd.", "the ad script ads.js and pixel.gif"),
    "harbourton-video": ("Harbourton Video Ltd.", "the video player video.html"),
    "vistaline": ("Vistaline Media B.V.", "the video player vistaline.html"),
}
"""Each stand-in provider's privacy-policy page (``/privacy/{key}``): its name, and
what this server serves for it. The keys are the site's service keys."""

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
</head>
<body>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""


def _file_endpoint(name: str, media_type: str, headers: dict[str, str] | None = None) -> Route:
    # Read once at start-up: the files are tiny and never change while running.
    body = (FILES / name).read_bytes()

    async def serve(request: Request) -> Response:
        return Response(body, media_type=media_type, headers=headers)

    return Route(f"/{name}", serve, methods=["GET"], name=name)


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body))


def create_tracker_app() -> Starlette:
    """The third-party server: `analytics.js`, `ads.js`, `pixel.gif`, the two video
    players, and a privacy-policy page for each stand-in provider. It sets no cookies."""

    async def pixel(request: Request) -> Response:
        return Response(PIXEL_GIF, media_type="image/gif", headers=NO_STORE)

    async def privacy_policy(request: Request) -> Response:
        provider = PROVIDERS.get(request.path_params["key"])
        if provider is None:
            raise HTTPException(status_code=404)
        name, serves = provider
        return _page(
            f"{name}: privacy policy",
            f"<p>{escape(name)} is a stand-in provider of the Harbourton Courier demo, which "
            f"serves {escape(serves)} from this address. A real provider's policy would say "
            "here what it collects when its code loads, why, for how long, and who it shares "
            "it with. This one collects nothing: it keeps no logs and sets no cookies.</p>",
        )

    async def index(request: Request) -> Response:
        items = "".join(
            f'<li><a href="privacy/{key}">{escape(name)}</a>: {escape(serves)}</li>'
            for key, (name, serves) in PROVIDERS.items()
        )
        return _page(
            "Stand-in third parties",
            "<p>The trackers and video players of the Harbourton Courier demo, served from "
            f"their own origin as a real site's are.</p><ul>{items}</ul>",
        )

    return Starlette(
        routes=[
            Route("/", index, methods=["GET"], name="index"),
            _file_endpoint("analytics.js", "application/javascript", NO_STORE),
            _file_endpoint("ads.js", "application/javascript", NO_STORE),
            Route("/pixel.gif", pixel, methods=["GET"], name="pixel.gif"),
            _file_endpoint("video.html", "text/html"),
            _file_endpoint("vistaline.html", "text/html"),
            _file_endpoint("video.css", "text/css"),
            Route("/privacy/{key}", privacy_policy, methods=["GET"], name="privacy_policy"),
        ]
    )
