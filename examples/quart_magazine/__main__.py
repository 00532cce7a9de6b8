"""``python -m examples.quart_magazine``: the magazine on 127.0.0.1:$PORT, with a consent log."""

from examples.common.serve import serve

if __name__ == "__main__":
    serve("examples.quart_magazine.app:app", "quart_magazine")
