"""The workspace: the data directory, and the seams tests plug transports and extractors into."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from digest import extract
from digest.config import ProviderConfig, load_config
from digest.errors import UsageError
from digest.send import Transport
from digest.send.outbox import OutboxTransport
from digest.workspace import Workspace, ensure_folder, resolve_home


def test_home_comes_from_the_option_the_environment_the_config_then_beside_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    path = folder / "digest.toml"
    path.write_text('home = "../data"\n', encoding="utf-8")
    with_home = load_config(path)
    path.write_text("", encoding="utf-8")
    without = load_config(path)
    monkeypatch.setenv("DIGEST_HOME", str(tmp_path / "env"))
    assert resolve_home(tmp_path / "opt", with_home) == tmp_path / "opt"
    assert resolve_home(None, with_home) == tmp_path / "env"
    monkeypatch.delenv("DIGEST_HOME")
    assert resolve_home(None, with_home).resolve() == (tmp_path / "data").resolve()
    assert resolve_home(None, without) == folder / "var"  # not the working directory's var


def test_the_same_store_from_any_working_directory(
    example_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cron job in another folder uses the store the configuration names, and so sends
    nothing twice (the bug this guards against re-sent every story from a fresh ./var)."""
    from typer.testing import CliRunner

    from digest.cli import app

    monkeypatch.delenv("DIGEST_HOME", raising=False)
    cfg = str(example_dir / "example.toml")
    first, second = tmp_path / "here", tmp_path / "there"
    for folder in (first, second):
        folder.mkdir()
    monkeypatch.chdir(first)
    assert CliRunner().invoke(app, ["run", "example", "--config", cfg]).exit_code == 0
    monkeypatch.chdir(second)
    result = CliRunner().invoke(app, ["run", "example", "--config", cfg])
    assert result.exit_code == 0 and "nothing new to send" in result.stdout
    status = CliRunner().invoke(app, ["status", "--config", cfg])
    home = (example_dir / ".." / "var").resolve()
    assert f"home {home}" in " ".join(status.stdout.split())
    assert not (first / "var").exists() and not (second / "var").exists()


def test_a_folder_that_cannot_be_made_is_a_usage_error(tmp_path: Path) -> None:
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(UsageError, match=r"--out .*file: not a folder"):
        ensure_folder(afile, "--out")
    with pytest.raises(UsageError, match="cannot create the folder"):
        ensure_folder(afile / "below", "--out")
    assert ensure_folder(tmp_path / "a" / "b", "--out").is_dir()


def test_transports_and_the_extractor_are_passed_in(example_dir: Path, home: Path) -> None:
    made: list[str] = []

    def transports(name: str, provider: ProviderConfig, where: Path) -> Transport:
        made.append(name)
        return OutboxTransport(where / "elsewhere")

    class Extractor:
        extract_document = staticmethod(extract.extract_document)
        extract_feed_item = staticmethod(extract.extract_feed_item)

    mine = Extractor()
    config = load_config(example_dir / "example.toml")
    with Workspace.open(config, home, transports=transports, extractor=mine) as ws:
        transport = ws.transport("outbox")
        assert isinstance(transport, OutboxTransport) and made == ["outbox"]
        assert ws.extractor is mine
    with Workspace.open(config, home) as ws:
        assert ws.extractor is extract  # the real one, loaded on first use


def test_the_data_directory_is_0700_and_the_database_0600_whatever_the_umask(
    example_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DIGEST_SECRET_KEY", raising=False)
    home = tmp_path / "fresh" / "var"
    config = load_config(example_dir / "example.toml")
    previous = os.umask(0)
    try:
        with Workspace.open(config, home) as ws:
            ws.store.ensure_list("readers")  # a write: the WAL file exists while open
            files = {path.name: stat.S_IMODE(path.stat().st_mode) for path in home.iterdir()}
    finally:
        os.umask(previous)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert files["digest.db"] == 0o600 and files["digest.db-wal"] == 0o600
    assert files["secret.key"] == 0o600
    assert set(files.values()) == {0o600}, files
