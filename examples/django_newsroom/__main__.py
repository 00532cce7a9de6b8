"""``python -m examples.django_newsroom``: the newsroom on 127.0.0.1:$PORT, with a consent log."""

from examples.common.serve import serve

if __name__ == "__main__":
    serve("examples.django_newsroom.newsroom.asgi:application", "django_newsroom")
