"""Optional parts: SES (botocore) and PostgreSQL (psycopg) are extras; without them, one line
names the extra to install."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from digest.config import ProviderConfig
from digest.errors import ConfigError, UsageError
from digest.send import make_transport
from digest.store import open_store


def test_ses_without_botocore_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for module in [m for m in sys.modules if m == "botocore" or m.startswith("botocore.")]:
        monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "botocore", None)
    monkeypatch.delitem(sys.modules, "digest.send.ses", raising=False)
    monkeypatch.setenv("AK", "id")
    monkeypatch.setenv("SK", "secret")
    provider = ProviderConfig(
        kind="ses", region="eu-west-1", access_key_env="AK", secret_key_env="SK"
    )
    with pytest.raises(ConfigError, match=r"providers.aws.kind: .*pip install 'digest\[ses\]'"):
        make_transport("aws", provider, tmp_path)


def test_postgresql_without_psycopg_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for module in [m for m in sys.modules if m == "psycopg" or m.startswith("psycopg.")]:
        monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(UsageError, match=r"pip install 'digest\[postgres\]'"):
        open_store("postgresql+psycopg://nobody@127.0.0.1:9/none", tmp_path, migrate=False)
