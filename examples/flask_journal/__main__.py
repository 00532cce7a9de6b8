"""``python -m examples.flask_journal``: the journal on 127.0.0.1:$PORT, with a consent log."""

from examples.common.serve import serve

if __name__ == "__main__":
    serve("examples.flask_journal.app:app", "flask_journal")
