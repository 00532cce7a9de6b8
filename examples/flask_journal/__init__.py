"""A Flask journal behind ``ConsentMiddleware``, served over ASGI through a2wsgi.

``app.app`` is the ASGI application for any ASGI server; ``python -m
examples.flask_journal`` serves it with uvicorn and a SQLite consent log.
"""
