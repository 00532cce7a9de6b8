"""Northgate Daily: a Litestar news site behind `ConsentMiddleware`.

`app.app` is the ASGI application; `python -m examples.litestar_news` serves it.
"""
