"""Reading a decision request safely: size, type, cross-site check, fields, ``next``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlsplit

from starlette.datastructures import Headers
from starlette.types import Receive

from .log import Mechanism
from .settings import NECESSARY

MAX_DECISION_BYTES = 16 * 1024
"""A decision is a few fields; anything larger is refused before it is read."""
_MECHANISMS: Mapping[str, Mechanism] = {"banner": "banner", "preferences": "preferences"}
DECISION_ACTIONS = ("accept_all", "reject_all", "save")
"""What a visitor can ask for; the log records ``save`` as ``custom`` or ``withdraw``."""


class BadDecision(Exception):
    """A decision request that cannot be honoured; carries the HTTP status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Decision:
    """A parsed decision request."""

    action: str
    categories: frozenset[str]
    next_url: str
    mechanism: Mechanism
    wants_json: bool
    locale: str
    services: frozenset[str] = frozenset()
    """Services allowed one by one, with ``save``."""


def is_cross_site(headers: Headers, host: str) -> bool:
    """Whether the request comes from another site (a forged decision)."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site:
        # The browser computed this with the public suffix list: trust it first.
        return fetch_site.strip().lower() not in ("same-origin", "same-site", "none")
    source = headers.get("origin") or headers.get("referer")
    if not source:
        return False
    if source.strip() == "null":
        return True
    try:
        source_host = urlsplit(source.strip()).hostname
    except ValueError:
        return True
    return source_host != _hostname(host)


def _hostname(host: str) -> str | None:
    try:
        return urlsplit(f"//{host.strip()}").hostname
    except ValueError:
        return None


def safe_next(value: str, host: str) -> str:
    """``value`` if it is a path or URL of this site, else ``/``."""
    value = value.strip()
    if not value or len(value) > 2048 or any(ord(c) < 0x20 or c in "\\\x7f" for c in value):
        return "/"
    try:
        parts = urlsplit(value)
    except ValueError:
        return "/"
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https") or parts.hostname != _hostname(host):
            return "/"
    elif not value.startswith("/"):
        return "/"
    path = parts.path or "/"
    if path.startswith("//"):
        return "/"
    target = quote(path, safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        target += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    return target


async def read_body(headers: Headers, receive: Receive) -> bytes:
    """The request body, refused with 413 past ``MAX_DECISION_BYTES``."""
    declared = headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadDecision(400, "Bad Content-Length")
        if int(declared) > MAX_DECISION_BYTES:
            raise BadDecision(413, "Decision too large")
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadDecision(400, "Client disconnected")
        body += message.get("body", b"")
        if len(body) > MAX_DECISION_BYTES:
            raise BadDecision(413, "Decision too large")
        if not message.get("more_body", False):
            return bytes(body)


def parse_decision(
    headers: Headers,
    body: bytes,
    categories: frozenset[str],
    host: str,
    services: frozenset[str] = frozenset(),
) -> Decision:
    """Read a decision from a form or JSON body; ``BadDecision`` when it is not one."""
    content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    fields: dict[str, list[str]]
    if content_type == "application/json" or content_type.endswith("+json"):
        fields = _json_fields(body)
        wants_json = True
    elif content_type in ("application/x-www-form-urlencoded", ""):
        try:
            text = body.decode("utf-8")
            # Each key at most once, and the few other fields: anything more is not a form
            # of ours.
            most = 8 + len(categories) + len(services)
            fields = parse_qs(text, keep_blank_values=True, max_num_fields=most)
        except (UnicodeDecodeError, ValueError) as error:
            raise BadDecision(400, "Unreadable form") from error
        wants_json = "application/json" in headers.get("accept", "")
    else:
        raise BadDecision(415, "Send a form or JSON")

    actions = fields.get("action", [])
    if len(actions) != 1 or actions[0] not in DECISION_ACTIONS:
        raise BadDecision(400, "Unknown action")
    chosen = frozenset(fields.get("categories", []))
    unknown = chosen - categories - {NECESSARY}
    if unknown:
        raise BadDecision(400, "Unknown category")
    chosen_services = frozenset(fields.get("services", []))
    if not chosen_services <= services:
        raise BadDecision(400, "Unknown service")
    mechanisms = fields.get("mechanism", [])
    mechanism: Mechanism = "api" if wants_json and not mechanisms else "banner"
    if mechanisms:
        found = _MECHANISMS.get(mechanisms[0])
        if found is None:
            raise BadDecision(400, "Unknown mechanism")
        mechanism = found
    next_values = fields.get("next", ["/"])
    return Decision(
        action=actions[0],
        categories=chosen,
        next_url=safe_next(next_values[0] if next_values else "/", host),
        mechanism=mechanism,
        wants_json=wants_json,
        locale=(fields.get("locale") or [""])[0][:16],
        services=chosen_services,
    )


def _json_fields(body: bytes) -> dict[str, list[str]]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise BadDecision(400, "Unreadable JSON") from error
    if not isinstance(data, dict):
        raise BadDecision(400, "Expected a JSON object")
    fields: dict[str, list[str]] = {}
    for key in ("action", "next", "mechanism", "locale"):
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise BadDecision(400, f"{key} must be a string")
        fields[key] = [value]
    for key in ("categories", "services"):
        keys = data.get(key, [])
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise BadDecision(400, f"{key} must be a list of strings")
        fields[key] = keys
    return fields
