"""Benchmarks of consent, run by hand from the repository root (docs/benchmarks.md).

What they measure is the ``consent`` that Python imports: this tree's, or the one
of an earlier checkout named in ``PYTHONPATH``::

    PYTHONPATH=/tmp/consent-before .venv/bin/python -m bench.overhead

``python -m`` (and uvicorn's ``--app-dir``, for the servers the benchmarks start)
put this tree ahead of ``PYTHONPATH``, where the earlier checkout's ``consent``
would lose to this one. So, before anything imports ``consent``, the entries of
``PYTHONPATH`` are moved to the front of ``sys.path``. ``bench`` itself and
``tests`` (whose ``tests/asgi.py`` is the ASGI driver of the benchmarks too) are
imported from this tree first, so their modules stay this tree's whatever the
other checkout holds.
"""

from __future__ import annotations

import os
import sys

import tests  # noqa: F401  (this tree's, before PYTHONPATH goes first)


def _pythonpath_first() -> None:
    """Moves the entries of ``PYTHONPATH`` ahead of every other entry of ``sys.path``.

    Nothing happens once ``consent`` is imported (under pytest, say): the order no
    longer decides anything that matters here.
    """
    if "consent" in sys.modules:
        return
    named = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    first = [os.path.abspath(entry) for entry in named if entry]
    if not first:
        return
    rest = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) not in first]
    sys.path[:] = [*first, *rest]


_pythonpath_first()
