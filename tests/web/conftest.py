"""A live app on 127.0.0.1 (uvicorn in a thread), a workspace to go with it, signing keys."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from digest.config import load_config
from digest.store import Store, open_store
from digest.tokens import LinkSigner
from digest.web import create_app
from digest.workspace import Workspace

CONFIG = """
[web]
base_url = "https://news.example.org"
signup_rate = 1
signup_burst = 4
{web}

[web.webhooks]
tolerance = 300
postmark_username_env = "TEST_PM_USER"
postmark_password_env = "TEST_PM_PASSWORD"
sendgrid_public_key_env = "TEST_SG_KEY"
mailgun_signing_key_env = "TEST_MG_KEY"
resend_secret_env = "TEST_RS_SECRET"
sns_topic_arns = ["arn:aws:sns:eu-west-1:123456789012:ses-feedback"]
{sns}

[providers.outbox]
kind = "outbox"
directory = "{outbox}"

[lists.readers]
title = "The Readers' Brief"
double_opt_in = true
confirm_provider = "outbox"
confirm_from = "Brief <brief@news.example.org>"
confirm_window = "2h"

[lists.open]
title = "Open List"
double_opt_in = false  # single opt-in is said, since double opt-in is the default

[lists.closed]
title = "Closed List"
signup = false
{extra}
"""


class LiveServer:
    """uvicorn serving an ASGI app on a free port of 127.0.0.1, in a thread."""

    def __init__(self, app: Any, **options: Any) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.sock = sock
        options.setdefault("proxy_headers", False)  # as `digest web` runs by default
        config = uvicorn.Config(app, log_level="warning", lifespan="off", **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def make_ws(tmp_path: Path, home: Path) -> Iterator[Callable[..., Workspace]]:
    stores: list[Store] = []

    def make(
        sns: str = "", store: Store | None = None, web: str = "", extra: str = ""
    ) -> Workspace:
        """`web`: more keys of [web]; `extra`: more tables at the end."""
        path = tmp_path / "digest.toml"
        text = CONFIG.format(outbox=tmp_path / "outbox", sns=sns, web=web, extra=extra)
        path.write_text(text, encoding="utf-8")
        config = load_config(path)
        opened = store or open_store(None, home)
        stores.append(opened)
        return Workspace(config, home, opened, LinkSigner("test-secret-key"))

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def webhook_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    sendgrid_key = ec.generate_private_key(ec.SECP256R1())
    public_der = sendgrid_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    values = {
        "TEST_SG_KEY": base64.b64encode(public_der).decode(),
        "TEST_PM_USER": "postmark",
        "TEST_PM_PASSWORD": "s3cret-pass",
        "TEST_MG_KEY": "key-mailgun-signing",
        "TEST_RS_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    values["sendgrid_private_pem"] = sendgrid_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return values


@dataclass
class Running:
    ws: Workspace
    url: str
    client: httpx.Client


@pytest.fixture
def live(make_ws: Callable[..., Workspace], webhook_env: dict[str, str]) -> Iterator[Running]:
    ws = make_ws()
    with (
        LiveServer(create_app(ws)) as server,
        httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client,
    ):
        yield Running(ws, f"http://127.0.0.1:{server.port}", client)
