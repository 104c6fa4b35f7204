"""``securellm keys create|list|revoke`` work on the gateway's database directly."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from securellm.cli.main import app
from securellm.core.db import create_engine
from securellm.gateway.keys import KeyStore

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "securellm.toml"
    path.write_text(f'data_dir = "{tmp_path}/data"\n')
    return path


def create(config: Path, *args: str) -> str:
    result = runner.invoke(app, ["keys", "create", "laptop", "--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_create_prints_the_key_once(config: Path) -> None:
    key = create(config, "--models", "local/*", "--rpm", "60", "--budget", "5", "--period", "day")
    assert key.startswith("sk-sl-")


def test_list_shows_limits_but_never_the_key(config: Path) -> None:
    key = create(config, "--rpm", "60", "--tpm", "1000")
    result = runner.invoke(app, ["keys", "list", "--config", str(config)])
    assert result.exit_code == 0
    assert "laptop" in result.output and "60" in result.output
    assert key not in result.output


def test_revoke_by_name_marks_it_revoked(config: Path) -> None:
    create(config)
    assert runner.invoke(app, ["keys", "revoke", "laptop", "--config", str(config)]).exit_code == 0
    listing = runner.invoke(app, ["keys", "list", "--config", str(config)])
    assert "revoked" in listing.output


def test_revoking_an_unknown_key_fails_clearly(config: Path) -> None:
    result = runner.invoke(app, ["keys", "revoke", "ghost", "--config", str(config)])
    assert result.exit_code == 1
    assert "no key" in result.output


def test_bad_period_is_a_usage_error(config: Path) -> None:
    result = runner.invoke(
        app, ["keys", "create", "x", "--config", str(config), "--budget", "1", "--period", "week"]
    )
    assert result.exit_code == 2


@pytest.mark.parametrize("expires", ["soon", "\u00b2d", "99999999999999d", "d", ""])
def test_bad_expiry_is_a_usage_error(config: Path, expires: str) -> None:
    result = runner.invoke(
        app, ["keys", "create", "x", "--config", str(config), "--expires", expires]
    )
    assert result.exit_code == 2, result.output
    assert "--expires must be like" in result.output


@pytest.mark.parametrize("budget", ["inf", "nan", "1e300"])
def test_a_budget_the_ledger_cannot_hold_is_a_usage_error(config: Path, budget: str) -> None:
    # to_nano(inf) or a value past 64 bits made every request of the key a 503.
    for command in (["create", "x"], ["update", "x"]):
        result = runner.invoke(app, ["keys", *command, "--config", str(config), "--budget", budget])
        assert result.exit_code == 2, result.output


def keys(config: Path, *args: str) -> Result:
    return runner.invoke(app, ["keys", *args, "--config", str(config)])


def store_of(config: Path) -> KeyStore:
    return KeyStore(create_engine(f"sqlite:///{config.parent}/data/gateway.db"))


def test_a_second_key_with_the_same_name_is_refused(config: Path) -> None:
    create(config)
    result = keys(config, "create", "laptop")
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert keys(config, "list").output.count("laptop") == 1


def test_a_key_cannot_be_created_already_expired(config: Path) -> None:
    result = keys(config, "create", "old", "--expires", "2020-01-01")
    assert result.exit_code == 2
    assert "already past" in result.output


def test_update_changes_limits_by_name(config: Path) -> None:
    create(config, "--rpm", "60")
    result = keys(config, "update", "laptop", "--rpm", "10", "--budget", "2", "--period", "day")
    assert result.exit_code == 0, result.output
    assert "rpm 10" in result.output and "budget $2.0/day" in result.output


def test_update_clear_removes_a_limit(config: Path) -> None:
    create(config, "--rpm", "60", "--budget", "5")
    result = keys(config, "update", "laptop", "--clear", "rpm", "--clear", "budget")
    assert result.exit_code == 0, result.output
    assert "rpm -" in result.output and "budget none" in result.output


def test_update_with_nothing_to_change_is_a_usage_error(config: Path) -> None:
    create(config)
    assert keys(config, "update", "laptop").exit_code == 2


def test_update_refuses_an_expiry_in_the_past(config: Path) -> None:
    create(config)
    result = keys(config, "update", "laptop", "--expires", "2020-01-01")
    assert result.exit_code == 2 and "already past" in result.output


def test_regenerate_prints_a_new_key_and_the_old_one_stops_working(config: Path) -> None:
    old = create(config)
    result = keys(config, "regenerate", "laptop")
    new = result.output.strip().splitlines()[-1]
    assert result.exit_code == 0 and new.startswith("sk-sl-") and new != old

    async def lookups() -> tuple[bool, bool]:
        store = store_of(config)
        found = (await store.by_plaintext(old) is None, await store.by_plaintext(new) is not None)
        await store.engine.dispose()
        return found

    assert asyncio.run(lookups()) == (True, True)


def test_an_ambiguous_name_is_refused_with_the_candidates(config: Path) -> None:
    create(config)
    assert keys(config, "create", "other").exit_code == 0
    # A duplicate name, as databases from before unique names may hold.
    with sqlite3.connect(config.parent / "data" / "gateway.db") as db:
        db.execute("UPDATE api_keys SET name = 'laptop', active_name = NULL WHERE name = 'other'")
    with sqlite3.connect(config.parent / "data" / "gateway.db") as db:
        ids = [row[0] for row in db.execute("SELECT id FROM api_keys")]
    result = keys(config, "revoke", "laptop")
    assert result.exit_code == 1
    assert "2 keys are named 'laptop'" in result.output
    assert all(key_id in result.output.replace("\n", "") for key_id in ids)
    assert "revoked" not in keys(config, "list").output


def test_a_key_sharing_its_name_answers_to_its_id(config: Path) -> None:
    create(config)
    assert keys(config, "create", "other").exit_code == 0
    with sqlite3.connect(config.parent / "data" / "gateway.db") as db:
        db.execute("UPDATE api_keys SET name = 'laptop', active_name = NULL WHERE name = 'other'")
        (key_id,) = db.execute("SELECT id FROM api_keys ORDER BY created_at").fetchone()
    result = keys(config, "revoke", key_id)
    assert result.exit_code == 0 and key_id in result.output


def test_create_with_admin_makes_an_admin_key(config: Path) -> None:
    create(config, "--admin")

    async def found() -> bool:
        store = store_of(config)
        try:
            return (await store.get("laptop")).is_admin
        finally:
            await store.engine.dispose()

    assert asyncio.run(found()) is True
