"""A Django newsroom behind ``ConsentMiddleware``: Django's ASGI application, wrapped.

``newsroom.asgi.application`` is the site for any ASGI server; ``python -m
examples.django_newsroom`` serves it with uvicorn and a SQLite consent log.
"""
