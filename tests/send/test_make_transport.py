"""Building a provider's transport from the configuration: secrets come from the environment,
and one that cannot go into a header stops the run with its variable named, never shown."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from digest.config import ProviderConfig
from digest.errors import ConfigError
from digest.send import make_transport


@pytest.mark.parametrize(
    ("provider", "variable"),
    [
        (ProviderConfig(kind="postmark", token_env="T_TOKEN"), "T_TOKEN"),
        (ProviderConfig(kind="resend", token_env="T_TOKEN"), "T_TOKEN"),
        (
            ProviderConfig(
                kind="ses", region="eu-west-1", access_key_env="T_KEY", secret_key_env="T_SECRET"
            ),
            "T_SECRET",
        ),
    ],
)
def test_a_secret_unfit_for_a_header_stops_the_run_unseen(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, provider: ProviderConfig, variable: str
) -> None:
    monkeypatch.setenv("T_TOKEN", "tok-123")
    monkeypatch.setenv("T_KEY", "AKIAEXAMPLE")
    monkeypatch.setenv("T_SECRET", "secret-456")
    asyncio.run(make_transport("main", provider, tmp_path).aclose())  # fine as they are
    monkeypatch.setenv(variable, "hidden-789\r\nX-Evil: 1")
    with pytest.raises(ConfigError) as caught:
        make_transport("main", provider, tmp_path)
    assert str(caught.value).startswith(f"environment: {variable}: is not a valid HTTP header")
    assert "hidden" not in str(caught.value)


def test_smtp_credentials_are_not_headers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("T_PASSWORD", "pass phrase with spaces")
    provider = ProviderConfig(kind="smtp", host="mail.example.org", password_env="T_PASSWORD")
    asyncio.run(make_transport("mail", provider, tmp_path).aclose())
