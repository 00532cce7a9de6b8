"""The flagship example: a Starlette and Jinja2 news site behind `ConsentMiddleware`.

`app.create_app()` builds it; `app.app` is a ready-made instance for uvicorn.
Modules here import each other relatively, so the folder also works when loaded
by file path under another package name (as `consent demo` does).
"""
