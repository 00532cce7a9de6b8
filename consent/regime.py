"""The law where the visitor is: the regime and region of a request, from trusted geo headers.

Read only when ``geo_header`` is set: a header a visitor could send themselves
would let them choose their own law. The country (and the subdivision, with
``geo_region_header``) resolve over ``regimes``, most specific first
(``consent/regions.py``); an unknown place (no header, empty, ``XX``, ``T1``)
gets ``default_regime``.
"""

from __future__ import annotations

from .cache import BUDGETS, BoundedCache
from .regions import Regime, normalise_country, normalise_region, resolve
from .settings import ConsentSettings

Place = tuple[Regime, str | None]
"""A request's regime, and its region (``"US-CA"``, ``"FR"``, or None)."""


class RegimeReader:
    """Resolves each distinct pair of geo header values once."""

    def __init__(self, settings: ConsentSettings) -> None:
        self.country_header = (settings.geo_header or "").encode("latin-1")
        """The geo header's name (lower case), or empty when no place is read."""
        self.region_header = (settings.geo_region_header or "").encode("latin-1")
        self._regimes = dict(settings.regimes)
        self._default = settings.default_regime
        self.unknown: Place = (self._default, None)
        """The place of a request whose headers name none."""
        self._places: BoundedCache[tuple[bytes, bytes], Place] = BoundedCache(BUDGETS["places"])

    def place(self, country: bytes, region: bytes) -> Place:
        """The regime and region that the geo headers' values name."""
        if not country:
            return self.unknown
        key = (country, region)
        find = self._places.get  # called as a local: a slot's method is not looked up faster
        found = find(key)
        if found is None:
            found = self._resolve(country, region)
            # Header values are visitor input: kept within the cache policy's bounds.
            self._places.put(key, found, 160 + 2 * (len(country) + len(region)))
        return found

    def _resolve(self, country_value: bytes, region_value: bytes) -> Place:
        country = normalise_country(country_value.decode("latin-1"))
        region = normalise_region(country, region_value.decode("latin-1")) if region_value else None
        return resolve(self._regimes, self._default, country, region), region or country
