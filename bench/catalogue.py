"""What the cookie catalogue costs: a look-up by cookie name, its first load, its memory.

Run by hand, from the repository root:

    .venv/bin/python bench/catalogue.py                  # about a minute
    .venv/bin/python bench/catalogue.py --instructions   # and callgrind counts, a few minutes more
    .venv/bin/python bench/catalogue.py --parts classify,instructions

Four parts, printed as Markdown tables (docs/benchmarks.md, "The cookie catalogue"):

1. The ways to find the longest prefix of a name among the catalogue's ~260
   prefixes: a loop over all of them (the baseline), one dictionary look-up per
   distinct prefix length, the same in buckets by the name's first characters, a
   binary search over the sorted prefixes, StringZilla's ``startswith`` over the
   prefixes of the name's first character, and one regular expression shaped as
   a trie (``consent.catalogue.prefixes``). Each is first checked to give what
   the loop gives on every prefix of the catalogue, one character more and one
   less.
2. ``consent.catalogue.classify``, the public call, on exact names, prefixes and
   misses, and on a mix of them.
3. The first load: a fresh process imports ``consent.catalogue`` and times its
   first call (reading, parsing and indexing the data file), and the memory it
   keeps (``tracemalloc``, in another fresh process).
4. With ``--instructions``: instructions per ``classify``, counted by callgrind
   (``valgrind``) in one process that has loaded the catalogue: N calls minus
   none, divided by N (the loop's own few instructions included). A count that
   does not drift with the machine's load.

Times are ns of this process's CPU time per call (the loop's own share
included), so that the time other processes take the CPU from it is not
counted: the median of ``--repeats`` runs of ``--number`` calls, and for
``classify`` the fastest run too.
"""

from __future__ import annotations

import argparse
import bisect
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import stringzilla  # noqa: E402

from bench.instructions import callgrind_control, callgrind_total  # noqa: E402
from bench.overhead.report import print_table  # noqa: E402
from consent import catalogue  # noqa: E402
from consent.catalogue.index import CookieInfo  # noqa: E402
from consent.catalogue.prefixes import longest_prefix_regex  # noqa: E402

NAMES = {
    "exact": "VISITOR_INFO1_LIVE",
    "prefix": "_hjSessionUser_3512768",
    "deep prefix": "_KnowledgePageFilterLanguage_en",
    "near miss": "__Host-session",
    "miss": "csrftoken",
    "10,000 characters": "a" * 10_000,
}
"""The names timed: what each case looks up."""

PREFIX_CASES = ("prefix", "deep prefix", "near miss", "miss", "10,000 characters")

Lookup = Callable[[str], CookieInfo | None]


def candidates(prefixes: Mapping[str, CookieInfo]) -> dict[str, Lookup]:
    """Each way to find the value of the longest prefix of a name, by what it does."""
    longest_first = sorted(prefixes, key=len, reverse=True)
    lengths = sorted({len(prefix) for prefix in prefixes}, reverse=True)
    get = prefixes.get

    def loop(name: str) -> CookieInfo | None:
        for prefix in longest_first:
            if name.startswith(prefix):
                return prefixes[prefix]
        return None

    def per_length(name: str) -> CookieInfo | None:
        for length in lengths:
            if length <= len(name):
                found = get(name[:length])
                if found is not None:
                    return found
        return None

    # The shortest prefix's length: every prefix starts with a key of this many characters.
    head = min(lengths)
    bucket_lengths: dict[str, set[int]] = {}
    for prefix in prefixes:
        bucket_lengths.setdefault(prefix[:head], set()).add(len(prefix))
    buckets = {key: sorted(found, reverse=True) for key, found in bucket_lengths.items()}

    def bucketed(name: str) -> CookieInfo | None:
        for length in buckets.get(name[:head], ()):
            found = get(name[:length])
            if found is not None:
                return found
        return None

    ordered = sorted(prefixes)

    def binary_search(name: str) -> CookieInfo | None:
        while name:
            index = bisect.bisect_right(ordered, name)
            if index == 0:
                return None
            candidate = ordered[index - 1]
            if name.startswith(candidate):
                return prefixes[candidate]
            # Any shorter prefix of the name is also a prefix of what the two share.
            name = name[: _shared_length(candidate, name)]
        return None

    by_first: dict[str, list[str]] = {}
    for prefix in longest_first:
        by_first.setdefault(prefix[0], []).append(prefix)
    startswith = stringzilla.startswith

    def stringzilla_buckets(name: str) -> CookieInfo | None:
        for prefix in by_first.get(name[:1], ()):
            if startswith(name, prefix):
                return prefixes[prefix]
        return None

    match = longest_prefix_regex(prefixes).match

    def trie_regex(name: str) -> CookieInfo | None:
        found = match(name)
        return None if found is None else prefixes[found.group()]

    return {
        "loop over all": loop,
        "dict per length": per_length,
        f"dict per length, {head}-char buckets": bucketed,
        "binary search": binary_search,
        "StringZilla, 1-char buckets": stringzilla_buckets,
        "trie regex (chosen)": trie_regex,
    }


def _shared_length(first: str, second: str) -> int:
    """How many characters the two strings start with in common."""
    for index, (a, b) in enumerate(zip(first, second, strict=False)):
        if a != b:
            return index
    return min(len(first), len(second))


def ns_per_call(
    function: Callable[[str], object], names: Sequence[str], number: int, repeats: int
) -> list[float]:
    """The ns per call of ``function`` over ``names`` in turn, in each of ``repeats`` runs."""
    timer = timeit.Timer(
        "for name in names: function(name)",
        timer=time.process_time,  # this process's CPU time: not the time others take the CPU
        globals={"function": function, "names": names},
    )
    return [run / (number * len(names)) * 1e9 for run in timer.repeat(repeats, number)]


def prefix_part(number: int, repeats: int) -> None:
    prefixes = {
        entry.name[:-1]: entry
        for entry in catalogue.catalogue().entries
        if entry.name.endswith("*") and catalogue.cookie(entry.name) is entry
    }
    ways = candidates(prefixes)
    reference = ways["loop over all"]
    checked = [NAMES[case] for case in PREFIX_CASES]
    checked += [p + "x" for p in prefixes] + [p[:-1] for p in prefixes] + list(prefixes)
    for way, lookup in ways.items():
        for name in checked:
            if lookup(name) is not reference(name):
                raise AssertionError(f"{way} gives {lookup(name)} for {name!r}")
    print(f"Longest prefix among {len(prefixes)} prefixes, ns per look-up:\n")
    rows = [
        [way, *(f"{statistics.median(ns_per_call(lookup, [NAMES[case]], number, repeats)):,.0f}"
                for case in PREFIX_CASES)]
        for way, lookup in ways.items()
    ]  # fmt: skip
    print_table(["way", *PREFIX_CASES], rows)


def classify_part(number: int, repeats: int) -> None:
    catalogue.classify("")  # load first
    rows = []
    for case, names in [*((case, [name]) for case, name in NAMES.items()),
                        ("mix (each of the above in turn)", list(NAMES.values()))]:  # fmt: skip
        runs = ns_per_call(catalogue.classify, names, max(1, number // len(names)), repeats)
        shown = "" if len(names) > 1 else repr(names[0] if len(names[0]) < 40 else "a" * 12 + "…")
        rows.append([case, shown, f"{statistics.median(runs):,.0f}", f"{min(runs):,.0f}"])
    print("consent.catalogue.classify, ns per call:\n")
    print_table(["case", "name", "median", "fastest run"], rows)


_LOAD_CHILD = """
import sys, time
import consent.catalogue as catalogue
start = time.perf_counter()
catalogue.catalogue()
print(time.perf_counter() - start)
"""

_MEMORY_CHILD = """
import tracemalloc
import consent.catalogue as catalogue
tracemalloc.start()
catalogue.catalogue()
print(tracemalloc.get_traced_memory()[0])
"""


def _child(code: str) -> str:
    """What a fresh Python process running ``code`` prints."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the child process failed:\n{done.stderr}")
    return done.stdout.strip()


def load_part(repeats: int) -> None:
    loads = [float(_child(_LOAD_CHILD)) for _ in range(repeats)]
    memory = int(_child(_MEMORY_CHILD))
    data = catalogue.DATA_FILE
    loaded = catalogue.catalogue()
    print("First load, in a fresh process:\n")
    print_table(
        ["what", "measured"],
        [
            ["data file", f"{data.stat().st_size:,} bytes ({data.name})"],
            ["entries / services", f"{len(loaded.entries):,} / {len(loaded.services())}"],
            ["first call (median)", f"{statistics.median(loads) * 1000:.1f} ms of {repeats}"],
            ["first call (min / max)", f"{min(loads) * 1000:.1f} / {max(loads) * 1000:.1f} ms"],
            ["memory kept (tracemalloc)", f"{memory / 2**20:.2f} MiB"],
        ],
    )


_COUNT_CHILD = """
import sys
import consent.catalogue as catalogue
classify = catalogue.classify
classify("")
print("ready", flush=True)
for line in sys.stdin:
    case, calls = line.rstrip("\\n").split("\\t")
    name = NAMES[case]
    for _ in range(int(calls)):
        classify(name)
    print("done", flush=True)
"""


def instructions_part(calls: int) -> None:
    """Instructions per classify, from one process under callgrind that loads the catalogue
    once: for each case its counters are zeroed, it makes ``calls`` calls, and they are
    dumped; the same with no calls is the overhead taken away."""
    code = f"NAMES = {NAMES!r}\n{_COUNT_CHILD}"
    with tempfile.TemporaryDirectory() as tmp:
        child = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/callgrind.%p",
             sys.executable, "-c", code],
            cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0"}, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        assert child.stdin is not None
        assert child.stdout is not None
        try:
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError("the child under callgrind did not start")
            counts: dict[str, int] = {}
            for number, (case, count) in enumerate(
                [("exact", 0), *((case, calls) for case in NAMES)], 1
            ):
                callgrind_control("-z", child.pid)
                child.stdin.write(f"{case}\t{count}\n")
                child.stdin.flush()
                if child.stdout.readline().strip() != "done":
                    raise RuntimeError(f"the child under callgrind stopped at {case}")
                callgrind_control("-d", child.pid)
                dump = Path(tmp) / f"callgrind.{child.pid}.{number}"
                counts[case if count else "none"] = callgrind_total(dump)
        finally:
            child.stdin.close()
            child.wait(timeout=600)
    print(f"Instructions per classify (callgrind, {calls:,} calls minus none):\n")
    rows = [[case, f"{(counts[case] - counts['none']) / calls:,.0f}"] for case in NAMES]
    print_table(["case", "instructions"], rows)


PARTS = ("prefix", "classify", "load", "instructions")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=20_000, help="calls per timed run")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs; the median is kept")
    parser.add_argument("--instructions", action="store_true", help="count with callgrind too")
    parser.add_argument("--calls", type=int, default=20_000, help="calls counted by callgrind")
    parser.add_argument("--parts", default="prefix,classify,load", help=f"of {','.join(PARTS)}")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(",")) | ({"instructions"} if args.instructions else set())
    if parts - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(parts - set(PARTS)))}")
    print(f"Python {sys.version.split()[0]}, StringZilla {stringzilla.__version__}\n")
    if "prefix" in parts:
        prefix_part(args.number, args.repeats)
    if "classify" in parts:
        classify_part(args.number, args.repeats)
    if "load" in parts:
        load_part(args.repeats)
    if "instructions" in parts:
        instructions_part(args.calls)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
