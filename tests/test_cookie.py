"""The consent cookie: signing, reading, rotation, expiry and the verification cache."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent.cookie import ConsentCookie, StoredChoice, new_consent_id
from tests.conftest import make_settings

ALL = frozenset({"preferences", "analytics", "marketing"})


def test_round_trip() -> None:
    cookie = ConsentCookie(make_settings())
    consent_id = new_consent_id()
    choice = cookie.read(cookie.sign(consent_id, "s", frozenset({"analytics"})))
    assert choice is not None
    assert (choice.consent_id, choice.method, choice.granted, choice.revision) == (
        consent_id,
        "s",
        frozenset({"analytics"}),
        1,
    )


def test_value_is_short_and_url_safe() -> None:
    value = ConsentCookie(make_settings()).sign(new_consent_id(), "a", ALL)
    assert len("consent=" + value) < 200
    assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def test_tampered_value_is_undecided() -> None:
    cookie = ConsentCookie(make_settings())
    value = cookie.sign(new_consent_id(), "r", frozenset())
    forged = value.replace(".r.", ".a.", 1).replace("..", ".analytics~marketing~preferences.")
    assert forged != value
    assert cookie.read(forged) is None


def test_unknown_key_is_undecided() -> None:
    value = ConsentCookie(make_settings(secret_key="k" * 40)).sign(new_consent_id(), "a", ALL)
    assert ConsentCookie(make_settings(secret_key="z" * 40)).read(value) is None


def test_rotated_key_still_verifies() -> None:
    old = ConsentCookie(make_settings(secret_key="old" * 20))
    value = old.sign(new_consent_id(), "a", ALL)
    rotated = ConsentCookie(make_settings(secret_key="new" * 20, old_secret_keys=["old" * 20]))
    assert rotated.read(value) is not None
    # New cookies are signed with the new key only.
    assert old.read(rotated.sign(new_consent_id(), "a", ALL)) is None


def test_older_revision_is_undecided_but_keeps_its_id() -> None:
    consent_id = new_consent_id()
    value = ConsentCookie(make_settings(policy_revision=1)).sign(consent_id, "a", ALL)
    current = ConsentCookie(make_settings(policy_revision=2))
    assert current.read(value) is None
    assert current.consent_id_of(value) == consent_id


def test_refusal_expires_after_reject_days(monkeypatch: pytest.MonkeyPatch) -> None:
    cookie = ConsentCookie(make_settings(reject_days=10, accept_days=300))
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)
    refusal = cookie.sign(new_consent_id(), "r", frozenset())
    acceptance = cookie.sign(new_consent_id(), "a", ALL)
    monkeypatch.setattr(time, "time", lambda: now + 11 * 86400)
    assert cookie.read(refusal) is None
    assert cookie.read(acceptance) is not None
    monkeypatch.setattr(time, "time", lambda: now + 301 * 86400)
    assert cookie.read(acceptance) is None


def test_cached_choice_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    cookie = ConsentCookie(make_settings(reject_days=10))
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)
    value = cookie.sign(new_consent_id(), "r", frozenset())
    assert cookie.read(value) is not None  # now cached
    monkeypatch.setattr(time, "time", lambda: now + 11 * 86400)
    assert cookie.read(value) is None


def test_verified_values_are_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    cookie = ConsentCookie(make_settings())
    value = cookie.sign(new_consent_id(), "a", ALL)
    calls: list[str] = []
    verify = cookie._verify

    def counting(raw: str) -> StoredChoice | None:
        calls.append(raw)
        return verify(raw)

    monkeypatch.setattr(cookie, "_verify", counting)
    assert cookie.read(value) == cookie.read(value) == cookie.read(value)
    assert calls == [value]


def test_category_no_longer_declared_grants_nothing() -> None:
    value = ConsentCookie(make_settings()).sign(new_consent_id(), "s", frozenset({"gone"}))
    choice = ConsentCookie(make_settings()).read(value)
    assert choice is not None
    assert choice.granted == frozenset()


@given(st.text(max_size=300))
def test_any_text_reads_as_undecided_without_error(value: str) -> None:
    assert COOKIE.read(value) is None
    assert COOKIE.consent_id_of(value) is None


COOKIE = ConsentCookie(make_settings())
