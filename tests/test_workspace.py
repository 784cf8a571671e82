"""The workspace: the data directory, and the seams tests plug transports and extractors into."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest import extract
from digest.config import ProviderConfig, load_config
from digest.errors import UsageError
from digest.send import Transport
from digest.send.outbox import OutboxTransport
from digest.workspace import Workspace, ensure_folder, resolve_home


def test_home_comes_from_the_option_then_the_environment_then_var(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DIGEST_HOME", str(tmp_path / "env"))
    assert resolve_home(tmp_path / "opt") == tmp_path / "opt"
    assert resolve_home(None) == tmp_path / "env"
    monkeypatch.delenv("DIGEST_HOME")
    assert resolve_home(None) == Path("var")


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
