"""The banner's static files, served under names that carry a content hash."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from starlette.responses import PlainTextResponse, Response

_MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
# The files' comments are for their readers here, not for each visitor's download. (Our
# files hold no "/*" in a string or regular expression: the browser tests run what is served.)
_COMMENT = re.compile(rb"/\*.*?\*/\n?", re.DOTALL)


def _static_dir() -> Path:
    packaged = Path(__file__).parent / "static"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "static"


class Assets:
    """``consent.css``, ``consent.js`` and ``consent-mode.js``, read once at start-up.

    Each is served as ``{prefix}/static/{stem}.{hash}{suffix}``: the URL changes
    with the content, so browsers and caches may keep it for a year. Comments
    are left out.
    """

    def __init__(self, prefix: str) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.urls: dict[str, str] = {}
        """The URL of each file, by its plain name (``consent.css``)."""
        self.sources: dict[str, str] = {}
        """The text of each file, by its plain name, for pages that inline it."""
        for path in sorted(_static_dir().iterdir()):
            media_type = _MEDIA_TYPES.get(path.suffix)
            if media_type is None:
                continue
            content = _COMMENT.sub(b"", path.read_bytes())
            digest = hashlib.sha256(content).hexdigest()[:12]
            name = f"{path.stem}.{digest}{path.suffix}"
            self.files[name] = (content, media_type)
            self.urls[path.name] = f"{prefix}/static/{name}"
            self.sources[path.name] = content.decode("utf-8")

    def response(self, name: str) -> Response:
        """The file called ``name`` (hash included), cacheable for a year, or 404."""
        found = self.files.get(name)
        if found is None:
            return PlainTextResponse("Not Found", status_code=404)
        content, media_type = found
        return Response(
            content,
            media_type=media_type,
            headers={
                "cache-control": "public, max-age=31536000, immutable",
                "x-content-type-options": "nosniff",
            },
        )
