"""What ConsentMiddleware costs per request, against bare Starlette and two common middlewares.

Run by hand, from the repository root, on a quiet machine:

    .venv/bin/python -m bench.overhead            # full run, about 5 minutes
    .venv/bin/python -m bench.overhead --quick    # a smoke run, under a minute

Three parts, each with its targets (PASS/FAIL printed; exit status 1 if one fails):

1. in-process (``inprocess.py``): the apps of ``bench/apps.py`` are called directly
   through the tests' ASGI driver (``tests/asgi.py``) in one asyncio loop, each stack
   paired with bare request by request, every request timed on its own, so that no
   client cost is measured and every stack sees the same machine state;
2. streaming memory (``memory.py``): 100 MiB of streamed HTML through the middleware,
   in a fresh child process per stack, measuring the growth of its peak RSS;
3. uvicorn + wrk (``uvicorn.py``): requests/s of two real servers on 127.0.0.1, bare
   and consent, interleaved (``apt-get install wrk`` if it is missing).

The cases (``cases.py``) use consent's public surface only; the ``consent`` measured
is the one Python imports, so an earlier checkout named first in ``PYTHONPATH`` is
measured by the same benchmark (see ``bench/__init__.py`` and docs/benchmarks.md).

Narrow or widen a run with ``--parts inproc,memory,uvicorn``, ``--cases json/decided,...``,
``--stacks bare,consent``, ``--rounds``, ``--requests``, ``--wrk-duration`` and
``--wrk-repeats``; ``--profile`` prints where ConsentMiddleware spends its time (cProfile,
consent's own functions); ``--json FILE`` also writes every number to a file.
"""
