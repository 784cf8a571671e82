"""Building blocks for the delivery tests: the example digest sending through a chosen provider
to generated subscribers, and `digest` commands run as real processes."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from pathlib import Path

from digest.config import load_config
from digest.testing.sandbox import RunningSandbox
from digest.workspace import Workspace

POSTMARK_TOKEN = "pm-sandbox-token"
RESEND_KEY = "re_sandbox_key"
SECRETS = {
    "PM_TOKEN": POSTMARK_TOKEN,
    "RS_KEY": RESEND_KEY,
    "MG_KEY": "mg-sandbox-key",
    "SG_KEY": "SG.sandbox-key",
}


def configure(example_dir: Path, provider: str, members: int) -> Path:
    """The example digest, sending through `provider` to `members` generated subscribers."""
    path = example_dir / "example.toml"
    text = path.read_text().replace('provider = "outbox"', f'provider = "{provider}"')
    rows = ["email,name"] + [f"reader{n}@example.com,Reader {n}" for n in range(members)]
    (example_dir / "example" / "subscribers.csv").write_text("\n".join(rows) + "\n")
    path.write_text(text)
    return path


def add_provider(path: Path, block: str) -> None:
    path.write_text(path.read_text() + "\n" + block + "\n")


def sandbox_provider(kind: str, sandbox: RunningSandbox) -> str:
    """A `[providers.<kind>]` block pointing at the sandbox (credentials from SECRETS)."""
    env = {"postmark": "PM_TOKEN", "resend": "RS_KEY", "mailgun": "MG_KEY", "sendgrid": "SG_KEY"}
    block = (
        f'[providers.{kind}]\nkind = "{kind}"\ntoken_env = "{env[kind]}"\n'
        f'base_url = "{sandbox.base_url}"'
    )
    return block + ('\ndomain = "mg.example.com"' if kind == "mailgun" else "")


def send_settings(path: Path, **settings: object) -> None:
    """Change keys of the `[send]` table (lease_seconds = 2, reconcile_after = 0...)."""
    lines = path.read_text().splitlines()
    start = lines.index("[send]")
    kept = [
        line
        for line in lines[start + 1 :]
        if line.split("=")[0].strip() not in settings or not line.strip()
    ]
    added = [f"{key} = {value}" for key, value in settings.items()]
    path.write_text("\n".join([*lines[: start + 1], *added, *kept]) + "\n")


def workspace(path: Path, home: Path) -> Workspace:
    return Workspace.open(load_config(path), home)


def recipients(sandbox: RunningSandbox) -> collections.Counter[str]:
    return collections.Counter(m.to for m in sandbox.state.messages())


def digest_process(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`digest ARGS...` in a process of its own (to be killed)."""
    return subprocess.Popen(
        [sys.executable, "-c", "from digest.cli import main; main()", *args],
        env={**os.environ, **SECRETS, "PYTHONPATH": str(Path.cwd()), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
