"""Django settings of the newsroom example: no database, sessions in a signed cookie.

The secret key signs Django's session cookie and the consent cookie alike (each
under its own salt). It comes from ``CONSENT_SECRET_KEY``, else the examples' demo key.
"""

from __future__ import annotations

from pathlib import Path

from examples.common import policy

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = policy.site_secret_key()
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]

# No models, no admin, no database: the articles are data and the session is a cookie.
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "examples.django_newsroom.newsroom.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                # `consent` in every template: {% if consent.allows.analytics %}
                "consent.django.context_processor",
            ],
        },
    },
]

SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_NAME = "sessionid"
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
# The CSRF token lives in the session rather than in a `csrftoken` cookie of its own:
# the newsletter form's protection is what makes the session strictly necessary.
CSRF_USE_SESSIONS = True

# Logging stays as the server set it up. With DEBUG off, Django's default logging adds
# no output of its own (errors reach the root logger either way), and applying it
# would close every logging handler of the process, other applications' included.
LOGGING_CONFIG = None

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
