"""Tidewater Quarterly: a Quart magazine behind `ConsentMiddleware`.

`app.app` is the ASGI application; `python -m examples.quart_magazine` serves it.
"""
