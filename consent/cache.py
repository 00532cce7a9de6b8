"""The one cache policy for what visitors send: bounded in entries and in bytes.

The request path keeps what it worked out from a request (the visitor a
``Cookie`` header stands for, the snippets of a page, the language an
``Accept-Language`` header picks) so that the next request with the same input
costs a dictionary look-up. Every such input comes from the visitor, so every
such cache is a :class:`BoundedCache`: at most ``max_entries`` entries and
``max_bytes`` of estimated size, oldest out first, and an entry larger than
``max_item_bytes`` is not kept at all (it is worked out again on each request).
Pure functions of the app's own input use ``functools.lru_cache`` instead.

What one middleware keeps, at most (``BUDGETS``; ``MEMORY_BOUND`` is the sum):

============  ========  =========  ===========================================
cache         entries   bytes      keyed by
============  ========  =========  ===========================================
visitors      4,096     16 MiB     ``Cookie`` header (no ``Sec-GPC: 1``)
visitors_gpc  1,024     4 MiB      ``Cookie`` header (with ``Sec-GPC: 1``)
choices       8,192     4 MiB      a genuine consent cookie's value
pages         2,048     8 MiB      language, request target, consent state
languages     512       256 KiB    ``Accept-Language`` header
cookie_names  4,096     1 MiB      a cookie name (its category)
places        1,024     256 KiB    the geo headers' values (regime and region)
imports       1,024     256 KiB    an earlier manager's cookie (logged once)
============  ========  =========  ===========================================

The consent log's cookie inventory has bounds of its own (``SqlConsentLog``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Budget:
    """How much one cache may hold."""

    max_entries: int
    max_bytes: int
    max_item_bytes: int


KIB = 1024
MIB = 1024 * KIB

BUDGETS: dict[str, Budget] = {
    "visitors": Budget(max_entries=4096, max_bytes=16 * MIB, max_item_bytes=256 * KIB),
    "visitors_gpc": Budget(max_entries=1024, max_bytes=4 * MIB, max_item_bytes=256 * KIB),
    "choices": Budget(max_entries=8192, max_bytes=4 * MIB, max_item_bytes=4 * KIB),
    "pages": Budget(max_entries=2048, max_bytes=8 * MIB, max_item_bytes=512 * KIB),
    "languages": Budget(max_entries=512, max_bytes=256 * KIB, max_item_bytes=2 * KIB),
    "cookie_names": Budget(max_entries=4096, max_bytes=1 * MIB, max_item_bytes=1 * KIB),
    "places": Budget(max_entries=1024, max_bytes=256 * KIB, max_item_bytes=512),
    "imports": Budget(max_entries=1024, max_bytes=256 * KIB, max_item_bytes=512),
}
MEMORY_BOUND = sum(budget.max_bytes for budget in BUDGETS.values())
"""The most all request-path caches of one middleware hold, in estimated bytes."""


class BoundedCache(Generic[K, V]):
    """A dictionary bounded in entries and in estimated bytes; oldest entries leave first.

    ``get`` is the underlying dictionary's own ``get`` (a look-up costs no more
    than a dictionary's). ``put`` takes the entry's estimated size in bytes: the
    caller knows best what its value holds, and must count the key too.
    """

    __slots__ = ("_costs", "_values", "budget", "get", "size")

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        # OrderedDict: taking the oldest entry out is O(1), where a dict's first key
        # takes longer to find after each deletion at the front.
        self._values: OrderedDict[K, V] = OrderedDict()
        self._costs: OrderedDict[K, int] = OrderedDict()
        self.size = 0
        """Estimated bytes held now."""
        self.get = self._values.get

    def put(self, key: K, value: V, cost: int) -> None:
        """Keep ``value`` under ``key`` unless it alone is larger than allowed."""
        budget = self.budget
        if cost > budget.max_item_bytes:
            return
        values = self._values
        costs = self._costs
        old = costs.pop(key, None)
        if old is not None:
            del values[key]
            self.size -= old
        while values and (len(values) >= budget.max_entries or self.size + cost > budget.max_bytes):
            oldest = next(iter(values))
            del values[oldest]
            self.size -= costs.pop(oldest)
        values[key] = value
        costs[key] = cost
        self.size += cost

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        """Forget every entry."""
        self._values.clear()
        self._costs.clear()
        self.size = 0
