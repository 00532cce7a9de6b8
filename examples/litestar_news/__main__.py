"""``python -m examples.litestar_news``: the news site on 127.0.0.1:$PORT, with a consent log."""

from examples.common.serve import serve

if __name__ == "__main__":
    serve("examples.litestar_news.app:app", "litestar_news")
