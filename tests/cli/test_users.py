"""`digest users`: accounts for the desk, passwords only as Argon2 hashes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from digest.accounts import verify_login
from digest.cli import app
from digest.config import load_config
from digest.workspace import Workspace

runner = CliRunner()


def invoke(cfg: Path, home: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--config", str(cfg), "--home", str(home)], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_add_list_password_remove(example_dir: Path, home: Path) -> None:
    cfg = example_dir / "example.toml"
    add_ada = ("users", "add", "ada", "--role", "editor", "--password-stdin")
    code, _, err = invoke(cfg, home, *add_ada, stdin="correct horse battery\n")
    assert code == 0, err
    add_grace = ("users", "add", "grace", "--role", "operator")
    code, _, err = invoke(cfg, home, *add_grace, stdin="a long passphrase\na long passphrase\n")
    assert code == 0, err
    listed = json.loads(invoke(cfg, home, "users", "list", "--json")[1])
    assert [(u["name"], u["role"]) for u in listed] == [("ada", "editor"), ("grace", "operator")]
    with Workspace.open(load_config(cfg), home) as ws:
        user = ws.store.user_by_name("ada")
        assert user is not None and user.password_hash.startswith("$argon2id$")
        assert "correct horse" not in user.password_hash
        assert verify_login(ws.store, "ada", "correct horse battery") is not None
        assert verify_login(ws.store, "ada", "wrong horse battery") is None
        assert verify_login(ws.store, "nobody", "correct horse battery") is None

    change = ("users", "password", "ada", "--password-stdin")
    code, _, err = invoke(cfg, home, *change, stdin="another good passphrase\n")
    assert code == 0, err
    with Workspace.open(load_config(cfg), home) as ws:
        assert verify_login(ws.store, "ada", "correct horse battery") is None
        assert verify_login(ws.store, "ada", "another good passphrase") is not None
    assert invoke(cfg, home, "users", "remove", "ada")[0] == 0
    assert invoke(cfg, home, "users", "remove", "ada")[0] == 2


def test_mistakes_are_one_line_and_exit_2(example_dir: Path, home: Path) -> None:
    cfg = example_dir / "example.toml"
    add = ("users", "add", "ada", "--password-stdin")
    code, _, err = invoke(cfg, home, *add, "--role", "king", stdin="long enough pass\n")
    assert code == 2 and "--role must be one of" in err
    code, _, err = invoke(cfg, home, *add, stdin="short\n")
    assert code == 2 and "at least 12 characters" in err and "short" not in err
    code, _, err = invoke(
        cfg, home, "users", "add", "ada", stdin="first passphrase\nsecond one!!\n"
    )
    assert code == 2 and "differ" in err
    assert invoke(cfg, home, *add, stdin="long enough pass\n")[0] == 0
    code, _, err = invoke(cfg, home, *add, stdin="long enough pass\n")
    assert code == 2 and "exists already" in err
