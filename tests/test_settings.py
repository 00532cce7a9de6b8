"""ConsentSettings: every source, and every bad setting named at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from consent import Category, ConsentMiddleware, ConsentSettings
from tests.conftest import SECRET, make_settings


def test_keyword_arguments() -> None:
    settings = ConsentSettings(secret_key=SECRET, policy_revision=3, log_url=None)
    assert settings.secret_key.get_secret_value() == SECRET
    assert settings.policy_revision == 3


def test_defaults_declare_the_usual_categories() -> None:
    settings = make_settings()
    assert settings.category_keys == ("preferences", "analytics", "marketing")
    assert settings.accept_days == 365
    assert settings.reject_days == 182
    assert settings.undeclared_cookies == "block"
    assert settings.log_url is None  # make_settings turns it off; the default is a file
    assert ConsentSettings(secret_key=SECRET).log_url == "sqlite:///consent-log.db"


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENT_SECRET_KEY", SECRET)
    monkeypatch.setenv("CONSENT_ACCEPT_DAYS", "200")
    monkeypatch.setenv("CONSENT_NECESSARY_COOKIES", '["session", "csrftoken"]')
    monkeypatch.setenv(
        "CONSENT_CATEGORIES", '[{"key": "stats", "title": "Statistics", "cookies": ["_pk_*"]}]'
    )
    settings = ConsentSettings()
    assert settings.accept_days == 200
    assert settings.necessary_cookies == ("session", "csrftoken")
    assert settings.category_keys == ("stats",)


def test_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"CONSENT_SECRET_KEY={SECRET}\nCONSENT_REJECT_DAYS=90\n")
    settings = ConsentSettings()
    assert settings.reject_days == 90


TOML = f"""
secret_key = "{SECRET}"
necessary_cookies = ["session"]
policy_revision = 4

[[categories]]
key = "analytics"
title = "Analytics"
description = "Audience measurement."
cookies = ["_ga", "_ga_*"]

[[categories]]
key = "marketing"
title = "Advertising"
cookies = ["_fbp"]
gpc_opt_out = true
"""


def test_toml_file_with_categories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "consent.toml"
    path.write_text(TOML)
    monkeypatch.setenv("CONSENT_CONFIG", str(path))
    settings = ConsentSettings()
    assert settings.policy_revision == 4
    assert settings.categories[0] == Category(
        key="analytics",
        title="Analytics",
        description="Audience measurement.",
        cookies=("_ga", "_ga_*"),
    )
    assert settings.categories[1].gpc_opt_out is True


def test_precedence_keyword_then_environment_then_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "consent.toml"
    path.write_text(TOML)
    monkeypatch.setenv("CONSENT_CONFIG", str(path))
    monkeypatch.setenv("CONSENT_POLICY_REVISION", "5")
    assert ConsentSettings().policy_revision == 5
    assert ConsentSettings(policy_revision=6).policy_revision == 6


def test_missing_toml_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENT_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ValueError, match=r"CONSENT_CONFIG: no TOML file at .*nope\.toml"):
        ConsentSettings(secret_key=SECRET)


def _error_for(**values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        ConsentSettings(**{"secret_key": SECRET, "log_url": None, **values})
    return str(caught.value)


def test_missing_secret_key_is_named() -> None:
    with pytest.raises(ValidationError, match=r"secret_key\n  Field required"):
        ConsentSettings()


def test_middleware_without_secret_fails_at_start_up() -> None:
    with pytest.raises(ValidationError, match="secret_key"):
        ConsentMiddleware(app=_never_called)


async def _never_called(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the app must not run")


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"secret_key": "short"}, "secret_key"),
        ({"secret_key": " " * 40}, "secret_key"),
        ({"accept_days": 396}, "accept_days"),
        ({"accept_days": 0}, "accept_days"),
        ({"reject_days": 400}, "reject_days"),
        ({"policy_revision": 0}, "policy_revision"),
        ({"undeclared_cookies": "maybe"}, "undeclared_cookies"),
        ({"cookie_name": "con sent"}, "cookie_name"),
        ({"path_prefix": "_consent/"}, "path_prefix"),
        ({"privacy_policy_url": "javascript:alert(1)"}, "privacy_policy_url"),
        ({"necessary_cookies": ["bad name"]}, "necessary_cookies"),
        ({"log_ip": "full"}, "log_ip"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
def test_bad_field_is_named(values: dict[str, Any], named: str) -> None:
    assert named in _error_for(**values)


def test_duplicate_category_keys() -> None:
    message = _error_for(
        categories=[Category(key="stats", title="A"), Category(key="stats", title="B")]
    )
    assert "categories[1]: duplicate category key 'stats' (also categories[0])" in message


def test_necessary_cannot_be_redefined() -> None:
    message = _error_for(categories=[Category(key="necessary", title="Necessary")])
    assert "categories[0]: 'necessary' is built in" in message


def test_pattern_in_two_categories() -> None:
    message = _error_for(
        categories=[
            Category(key="analytics", title="A", cookies=["_ga"]),
            Category(key="marketing", title="M", cookies=["_ga"]),
        ]
    )
    assert "cookie pattern '_ga' is declared in both 'analytics' and 'marketing'" in message


def test_pattern_both_necessary_and_optional() -> None:
    message = _error_for(
        necessary_cookies=["session"],
        categories=[Category(key="analytics", title="A", cookies=["session"])],
    )
    assert "'session' is declared in both 'necessary' and 'analytics'" in message


def test_name_caught_by_another_categorys_glob() -> None:
    message = _error_for(
        categories=[
            Category(key="analytics", title="A", cookies=["_ga_*"]),
            Category(key="marketing", title="M", cookies=["_ga_ads"]),
        ]
    )
    assert "cookie '_ga_ads' of 'marketing' also matches pattern '_ga_*' of 'analytics'" in message


@pytest.mark.parametrize(
    ("category", "named"),
    [
        ({"key": "Bad Key", "title": "T"}, "key"),
        ({"key": "ok", "title": ""}, "title"),
        ({"key": "ok", "title": "T", "cookies": ["a b"]}, "cookies"),
        ({"key": "ok", "title": "T", "google_consent_types": ["ads"]}, "google_consent_types"),
    ],
)
def test_bad_category_field_is_named(category: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Category(**category)
    assert named in str(caught.value)


@pytest.mark.parametrize("model", [ConsentSettings, Category])
def test_every_field_is_documented(model: type[Any]) -> None:
    source = Path(model.__module__.replace(".", "/") + ".py")
    text = (Path(__file__).parent.parent / source).read_text()
    for name in model.model_fields:
        line = next(line for line in text.splitlines() if line.strip().startswith(f"{name}:"))
        following = text.split(line, 1)[1].lstrip().splitlines()[0]
        assert following.startswith('"""'), f"{name} has no docstring"


def test_retention_days_must_be_positive() -> None:
    assert "retention_days" in _error_for(retention_days=0)
    assert make_settings(retention_days=400).retention_days == 400


def test_spool_path_reaches_the_log(tmp_path: Path) -> None:
    from consent.log import SqlConsentLog

    settings = make_settings(
        log_url=f"sqlite:///{tmp_path / 'log.db'}", log_spool_path=tmp_path / "waiting.spool"
    )
    middleware = ConsentMiddleware(_never_called, settings)
    assert isinstance(middleware.log, SqlConsentLog)
    assert middleware.log.spool.path == tmp_path / "waiting.spool"
    default = ConsentMiddleware(
        _never_called, make_settings(log_url=f"sqlite:///{tmp_path / 'x.db'}")
    )
    assert isinstance(default.log, SqlConsentLog)
    assert default.log.spool.path == tmp_path / "x.db.spool"


def test_a_shared_env_file_only_gives_its_consent_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The application's .env also holds other programs' variables: they are not ours."""
    monkeypatch.chdir(tmp_path)
    env = tmp_path / ".env"
    env.write_text(f"DATABASE_URL=postgres://x\nCONSENT_SECRET_KEY={SECRET}\nCONSENT_LOG_URL=\n")
    assert ConsentSettings().log_url is None
    env.write_text(env.read_text() + "CONSENT_SECRT_KEY=typo\n")
    with pytest.raises(ValidationError, match="secrt_key"):
        ConsentSettings()
