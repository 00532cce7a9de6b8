"""``python -m examples.fastapi_blog``: the blog on 127.0.0.1:$PORT, with a consent log."""

from examples.common.serve import serve

if __name__ == "__main__":
    serve("examples.fastapi_blog.app:app", "fastapi_blog")
