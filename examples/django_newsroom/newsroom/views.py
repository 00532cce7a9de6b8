"""The newsroom's views, written as any Django site writes them.

The article view sets its analytics cookie on every visit, whatever the visitor
chose: keeping it from visitors who refused analytics is ConsentMiddleware's job.
The visitor's choice is read the Django way, with ``consent_state(request)`` in a
view and the ``consent`` context processor in templates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ValidationError  # type: ignore[import-untyped]
from django.core.validators import validate_email  # type: ignore[import-untyped]
from django.http import (  # type: ignore[import-untyped]
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import redirect, render  # type: ignore[import-untyped]
from django.views.decorators.http import (  # type: ignore[import-untyped]
    require_GET,
    require_POST,
)

from consent.django import consent_state
from examples.common import pages, policy
from examples.common.articles import ARTICLES, find_article

MAX_EMAIL = 254

_View = TypeVar("_View", bound=Callable[..., Any])


def _keeps_signature(decorator: Any) -> Callable[[_View], _View]:
    """``decorator``, typed: Django ships no type hints, and an untyped decorator
    would hide the views it wraps from the type checker."""
    typed: Callable[[_View], _View] = decorator
    return typed


only_get = _keeps_signature(require_GET)
only_post = _keeps_signature(require_POST)

# The stylesheet and analytics script every example shares, read once: with DEBUG off
# Django serves no static files itself.
STATIC_FILES: dict[str, tuple[bytes, str]] = {
    "analytics.js": ((pages.STATIC_DIR / "analytics.js").read_bytes(), "text/javascript"),
    "site.css": ((pages.STATIC_DIR / "site.css").read_bytes(), "text/css"),
}


@only_get
def front_page(request: HttpRequest) -> HttpResponse:
    """The list of articles and the newsletter form (whose CSRF token starts the session)."""
    return _front_page(request)


@only_get
def article(request: HttpRequest, slug: str) -> HttpResponse:
    """One article; records the visit in the ``site_analytics`` cookie every time."""
    found = find_article(slug)
    if found is None:
        raise Http404("no such article")
    response = render(request, "newsroom/article.html", {"article": found})
    # Deliberately unconditional: the middleware removes this Set-Cookie for
    # visitors who have not granted "analytics", and hides a refused one from us.
    cookie = policy.analytics_cookie(request.COOKIES)
    response.set_cookie(cookie.name, cookie.value, max_age=cookie.max_age, samesite="Lax")
    return response


@only_post
def newsletter(request: HttpRequest) -> HttpResponse:
    """Sign up for the newsletter (CsrfViewMiddleware checks the token first)."""
    email = request.POST.get("email", "").strip()[:MAX_EMAIL]
    try:
        validate_email(email)
    except ValidationError:
        return _front_page(request, error="Enter an email address.", status=400)
    request.session["newsletter"] = email
    return redirect("front_page")


@only_get
def consent_json(request: HttpRequest) -> JsonResponse:
    """The visitor's state, read in a view with ``consent_state(request)``."""
    return JsonResponse(pages.state_json(consent_state(request), request.COOKIES))


@only_get
def static_file(request: HttpRequest, name: str) -> HttpResponse:
    """One of the static files every example shares: the stylesheet or the analytics script."""
    try:
        body, content_type = STATIC_FILES[name]
    except KeyError:
        raise Http404("no such file") from None
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "no-cache"
    return response


def _front_page(
    request: HttpRequest, *, error: str | None = None, status: int = 200
) -> HttpResponse:
    context = {
        "articles": ARTICLES,
        "subscribed": request.session.get("newsletter"),
        "error": error,
    }
    return render(request, "newsroom/index.html", context, status=status)
