"""The send stage: transports behind one protocol, and the loop that works the ledger."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from digest.config import ProviderConfig
from digest.errors import ConfigError, ConfigProblem
from digest.send.base import Transport

__all__ = ["Transport", "make_transport"]


def _secret(name: str, env: str | None, key: str) -> str:
    if env is None:
        raise ConfigError([ConfigProblem("config", f"providers.{name}.{key}", "is required")])
    value = os.environ.get(env)
    if not value:
        raise ConfigError(
            [ConfigProblem("environment", env, f"is not set (providers.{name}.{key} names it)")]
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
            _secret(name, provider.username_env, "username_env") if provider.username_env else None
        )
        password = (
            _secret(name, provider.password_env, "password_env") if provider.password_env else None
        )
        default_port = {"tls": 465, "starttls": 587, "none": 25}[provider.security]
        return SmtpTransport(
            provider.host,
            provider.port or default_port,
            username=username,
            password=password,
            security=provider.security,
        )
    raise ConfigError([ConfigProblem("config", f"providers.{name}.kind", "unknown kind")])
