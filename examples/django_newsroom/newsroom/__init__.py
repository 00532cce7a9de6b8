"""The Django project of the newsroom example: settings, URLs, views, templates, ASGI entry."""
