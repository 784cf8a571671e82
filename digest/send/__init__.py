"""The send stage: transports behind one protocol, and the loop that works the ledger."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from digest.config import ProviderConfig
from digest.errors import ConfigError, ConfigProblem
from digest.send.base import Transport

__all__ = ["HEADER_SECRETS", "Transport", "make_transport", "secret_problems"]

# The secrets each kind sends in an HTTP header (SMTP's are base64-encoded by the protocol).
HEADER_SECRETS: dict[str, tuple[str, ...]] = {
    "postmark": ("token_env",),
    "sendgrid": ("token_env",),
    "mailgun": ("token_env",),
    "resend": ("token_env",),
    "ses": ("access_key_env", "secret_key_env"),
}
_TOKEN = re.compile(r"[\x21-\x7e]+")  # visible ASCII: what API tokens and keys are made of


def _header_problem(value: str) -> str | None:
    """What makes a secret unfit for a header, in words that do not show it; None if fit."""
    if _TOKEN.fullmatch(value):
        return None
    odd = next(c for c in value if not _TOKEN.fullmatch(c))
    kind = (
        "a line break" if odd in "\r\n"
        else "a control character" if ord(odd) < 32 or ord(odd) == 127
        else "a space" if odd.isspace()
        else "a character that is not ASCII"
    )  # fmt: skip
    return f"is not a valid HTTP header value: it holds {kind} (the value is not shown)"


def secret_problems(
    providers: Mapping[str, ProviderConfig], environ: Mapping[str, str] = os.environ
) -> list[ConfigProblem]:
    """The header secrets set in the environment that could not be sent as they are, each
    named by its variable, never shown (a CR/LF in one would split the request's headers)."""
    problems = []
    for name, provider in providers.items():
        for key in HEADER_SECRETS.get(provider.kind, ()):
            env = getattr(provider, key)
            value = environ.get(env) if env else None
            if value and (problem := _header_problem(value)):
                problems.append(
                    ConfigProblem("environment", env, f"{problem}; providers.{name}.{key} names it")
                )
    return problems


def _secret(name: str, env: str | None, key: str, *, header: bool = True) -> str:
    if env is None:
        raise ConfigError([ConfigProblem("config", f"providers.{name}.{key}", "is required")])
    value = os.environ.get(env)
    if not value:
        raise ConfigError(
            [ConfigProblem("environment", env, f"is not set (providers.{name}.{key} names it)")]
        )
    if header and (problem := _header_problem(value)):
        raise ConfigError(
            [ConfigProblem("environment", env, f"{problem}; providers.{name}.{key} names it")]
        )
    return value


def make_transport(name: str, provider: ProviderConfig, home: Path) -> Transport:
    """Build the transport a provider entry describes; secrets are read from the environment."""
    kwargs: dict[str, Any] = {"base_url": provider.base_url} if provider.base_url else {}
    if provider.kind == "outbox":
        from digest.send.outbox import OutboxTransport  # lazy: only the chosen adapter loads

        directory = Path(provider.directory) if provider.directory else home / "outbox"
        return OutboxTransport(directory)
    if provider.kind == "postmark":
        from digest.send.postmark import PostmarkTransport  # lazy: only the chosen adapter loads

        return PostmarkTransport(
            _secret(name, provider.token_env, "token_env"),
            message_stream=provider.message_stream,
            **kwargs,
        )
    if provider.kind == "sendgrid":
        from digest.send.sendgrid import SendGridTransport  # lazy: only the chosen adapter loads

        return SendGridTransport(_secret(name, provider.token_env, "token_env"), **kwargs)
    if provider.kind == "mailgun":
        from digest.send.mailgun import MailgunTransport  # lazy: only the chosen adapter loads

        assert provider.domain is not None
        return MailgunTransport(
            _secret(name, provider.token_env, "token_env"), provider.domain, **kwargs
        )
    if provider.kind == "resend":
        from digest.send.resend import ResendTransport  # lazy: only the chosen adapter loads

        return ResendTransport(_secret(name, provider.token_env, "token_env"), **kwargs)
    if provider.kind == "ses":
        try:
            from digest.send.ses import SesTransport  # lazy: only the chosen adapter loads
        except ModuleNotFoundError as exc:
            if (exc.name or "").partition(".")[0] != "botocore":
                raise
            raise ConfigError(
                [
                    ConfigProblem(
                        "config",
                        f"providers.{name}.kind",
                        "Amazon SES needs the ses extra: pip install 'digest[ses]'",
                    )
                ]
            ) from None

        assert provider.region is not None
        return SesTransport(
            _secret(name, provider.access_key_env, "access_key_env"),
            _secret(name, provider.secret_key_env, "secret_key_env"),
            provider.region,
            base_url=provider.base_url,
        )
    if provider.kind == "smtp":
        from digest.send.smtp import SmtpTransport  # lazy: only the chosen adapter loads

        assert provider.host is not None
        username = (
            _secret(name, provider.username_env, "username_env", header=False)
            if provider.username_env
            else None
        )
        password = (
            _secret(name, provider.password_env, "password_env", header=False)
            if provider.password_env
            else None
        )
        tls = provider.smtp_tls
        return SmtpTransport(
            provider.host,
            provider.port or {"tls": 465, "starttls": 587, "none": 25}[tls],
            username=username,
            password=password,
            tls=tls,
            setting=f"providers.{name}.tls",
        )
    raise ConfigError([ConfigProblem("config", f"providers.{name}.kind", "unknown kind")])
