"""The Allotment Diary: a FastAPI blog behind `ConsentMiddleware`.

`app.app` is the ASGI application; `python -m examples.fastapi_blog` serves it.
"""
