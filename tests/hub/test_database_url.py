"""One parser for database URLs: what each engine's URL names, and clear errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import load_settings
from hub.database import Engine, parse_database_url
from protocol.errors import ConfigError


def test_sqlite_urls_name_a_relative_or_an_absolute_file() -> None:
    relative = parse_database_url("sqlite:///var/onestop.db")
    assert (relative.engine, relative.path) == (Engine.SQLITE, Path("var/onestop.db"))
    assert parse_database_url("sqlite:////srv/hub/record.db").path == Path("/srv/hub/record.db")


def test_postgresql_urls_keep_the_connection_and_ignore_local_with_a_warning(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hub.database._WARNED", set())
    url = parse_database_url("postgresql://hub:secret@db.tinh.gov.vn:5433/onestop?sslmode=require&local=/srv/local.db")
    assert url.engine is Engine.POSTGRESQL and url.path is None
    assert url.dsn == "postgresql://hub:secret@db.tinh.gov.vn:5433/onestop?sslmode=require"
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "the key 'local' is ignored" in warned[0] and "secret" not in warned[0]
    caplog.clear()
    parse_database_url("postgresql://hub:secret@db.tinh.gov.vn:5433/onestop?sslmode=require&local=/srv/local.db")
    assert [r for r in caplog.records if r.levelname == "WARNING"] == []  # said once, not at every part
    plain = parse_database_url("postgres://hub@localhost/onestop")
    assert plain.dsn == "postgresql://hub@localhost/onestop"
    assert [r for r in caplog.records if r.levelname == "WARNING"] == []


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://hub@db/onestop", "is not supported"),
        ("sqlite://onestop.db", "is not supported"),
        ("sqlite:///", "names no file"),
        ("postgresql://hub:secret@db:5432/", "names no database"),
    ],
)
def test_a_bad_url_is_refused_with_what_was_expected(url: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as raised:
        parse_database_url(url)
    assert "secret" not in str(raised.value)  # a password never shows in an error
    assert "sqlite:///path/to/file.db or postgresql://" in str(raised.value)


def test_a_bad_database_url_in_the_config_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\n  database = 'oracle://x'") as raised:
        load_settings().with_overrides(database="oracle://x")
    assert "is not supported" in str(raised.value)
