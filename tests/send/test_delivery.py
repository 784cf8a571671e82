"""The ledger end to end: a frozen issue delivered through real transports to the sandbox.

Every subscriber gets exactly one message, per-message errors are recorded per recipient,
injected 429s and 5xx delay but never lose a message, 401 stops the issue at once, and a sender
killed with SIGKILL mid-send is resumed without duplicates or gaps.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.config import load_config
from digest.pipeline import freeze_and_send, run_digest
from digest.testing.sandbox import RunningSandbox, run_sandbox
from digest.workspace import Workspace

POSTMARK_TOKEN = "pm-sandbox-token"
RESEND_KEY = "re_sandbox_key"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with run_sandbox() as running:
        yield running


def _configure(example_dir: Path, provider: str, members: int) -> Path:
    """The example digest, sending through `provider` to `members` generated subscribers."""
    path = example_dir / "example.toml"
    text = path.read_text().replace('provider = "outbox"', f'provider = "{provider}"')
    rows = ["email,name"] + [f"reader{n}@example.com,Reader {n}" for n in range(members)]
    (example_dir / "example" / "subscribers.csv").write_text("\n".join(rows) + "\n")
    path.write_text(text)
    return path


def _add_provider(path: Path, block: str) -> None:
    path.write_text(path.read_text() + "\n" + block + "\n")


def _workspace(path: Path, home: Path) -> Workspace:
    return Workspace.open(load_config(path), home)


def _recipients(sandbox: RunningSandbox) -> collections.Counter[str]:
    return collections.Counter(m.to for m in sandbox.state.messages())


@pytest.mark.slow
def test_postmark_delivers_once_and_records_per_message_errors(
    example_dir: Path, home: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _configure(example_dir, "pm", 1200)
    _add_provider(
        path,
        f'[providers.pm]\nkind = "postmark"\ntoken_env = "PM_TOKEN"\n'
        f'base_url = "{sandbox.base_url}"',
    )
    monkeypatch.setenv("PM_TOKEN", POSTMARK_TOKEN)
    sandbox.state.set_inactive("reader7@example.com")
    sandbox.state.set_invalid("reader8@example.com")
    sandbox.state.fail_next(2, status=429)  # the first two batch calls are throttled
    sandbox.state.fail_next(1, status=500)
    ws = _workspace(path, home)
    try:
        report = asyncio.run(run_digest(ws, "example", max_wait=120))
        assert report.dispatch is not None
        assert report.dispatch.counts == {"sent": 1198, "suppressed": 1, "failed": 1}
        assert report.status == "partial"
        assert ws.store.is_suppressed("reader7@example.com")
        received = _recipients(sandbox)
        assert len(received) == 1198 and set(received.values()) == {1}
        assert "reader7@example.com" not in received and "reader8@example.com" not in received
        # the suppressed address is left out of the next issue's plan at once
        (example_dir / "example" / "articles" / "new.md").write_text(
            "# A new story arrives\n\nSomething new happened in the harbour today, and it is "
            "worth a paragraph of real prose so that the digest has a lead to summarize.\n"
        )
        second = asyncio.run(run_digest(ws, "example", max_wait=120))
        assert second.dispatch is not None
        assert second.dispatch.counts == {"sent": 1198, "failed": 1}  # still invalid
    finally:
        ws.close()


def test_authentication_failure_stops_the_issue_and_loses_nothing(
    example_dir: Path, home: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _configure(example_dir, "pm", 30)
    _add_provider(
        path,
        f'[providers.pm]\nkind = "postmark"\ntoken_env = "PM_TOKEN"\n'
        f'base_url = "{sandbox.base_url}"',
    )
    monkeypatch.setenv("PM_TOKEN", "wrong-token")
    ws = _workspace(path, home)
    try:
        report = asyncio.run(run_digest(ws, "example", max_wait=5))
        assert report.status == "failed"
        assert report.dispatch is not None and report.dispatch.error
        assert "401" in report.dispatch.error or "token" in report.dispatch.error.lower()
        assert ws.store.delivery_counts(report.issue_id or 0) == {"pending": 30}
        assert sandbox.state.messages() == []
        issue = ws.store.get_issue(report.issue_id or 0)
        assert issue.status == "sending" and issue.report["stopped"]
    finally:
        ws.close()
    # with the right token, resuming sends everything exactly once
    monkeypatch.setenv("PM_TOKEN", POSTMARK_TOKEN)
    ws = _workspace(path, home)
    try:
        from digest.pipeline import resume_unfinished

        [resumed] = asyncio.run(resume_unfinished(ws, "example", max_wait=5))
        assert resumed.status == "complete" and resumed.counts == {"sent": 30}
    finally:
        ws.close()
    assert set(_recipients(sandbox).values()) == {1}


def test_an_unsubscribe_after_freezing_is_honoured(
    example_dir: Path, home: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _configure(example_dir, "pm", 5)
    _add_provider(
        path,
        f'[providers.pm]\nkind = "postmark"\ntoken_env = "PM_TOKEN"\n'
        f'base_url = "{sandbox.base_url}"',
    )
    monkeypatch.setenv("PM_TOKEN", POSTMARK_TOKEN)
    ws = _workspace(path, home)
    try:
        from digest.pipeline import compose_issue, store_draft, sync_lists

        sync_lists(ws)
        issue_id = ws.store.claim_issue("example", "2026-W48", ws.owner)
        assert issue_id is not None
        store_draft(ws, issue_id, asyncio.run(compose_issue(ws, "example")))
        list_id = ws.store.list_id("readers")
        leaver = ws.store.subscriber_by_email("reader2@example.com")
        assert list_id is not None and leaver is not None
        ws.store.set_membership_status(list_id, leaver.id, "unsubscribed")
        report = asyncio.run(freeze_and_send(ws, issue_id, max_wait=5))
        assert report.dispatch is not None and report.dispatch.counts == {"sent": 4}
    finally:
        ws.close()
    assert "reader2@example.com" not in _recipients(sandbox)


def _digest(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "from digest.cli import main; main()", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_sigkill_mid_send_then_resume_delivers_each_subscriber_exactly_once(
    example_dir: Path, home: Path, sandbox: RunningSandbox
) -> None:
    """Resend takes the delivery ids as idempotency keys: a batch the provider accepted but
    the killed sender never recorded is answered from the provider's memory, not sent twice."""
    members = 2000
    path = _configure(example_dir, "rs", members)
    _add_provider(
        path,
        f'[providers.rs]\nkind = "resend"\ntoken_env = "RS_KEY"\nbase_url = "{sandbox.base_url}"',
    )
    path.write_text(
        path.read_text()
        .replace("lease_seconds = 300", "lease_seconds = 2")
        .replace("concurrency = 3 ", "concurrency = 2 ")
    )
    sandbox.state.slow_next(1000, 0.05)  # slow the provider so the kill lands mid-send
    env = {**os.environ, "RS_KEY": RESEND_KEY, "PYTHONPATH": str(Path.cwd())}
    args = ("--config", str(path), "--home", str(home))
    sender = _digest("run", "example", *args, env=env)
    deadline = time.monotonic() + 60
    while len(sandbox.state.messages()) < 500:
        assert sender.poll() is None, sender.communicate()
        assert time.monotonic() < deadline, "the sender never got going"
        time.sleep(0.01)
    sender.send_signal(signal.SIGKILL)
    sender.wait()
    delivered_before = len(_recipients(sandbox))
    assert 500 <= delivered_before < members

    sandbox.state.clear_faults()
    resumed = _digest("resume", *args, env=env)
    _out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err.decode()
    received = _recipients(sandbox)
    assert len(received) == members, "somebody was left out"
    assert set(received.values()) == {1}, "somebody got the issue twice"
    ws = _workspace(path, home)
    try:
        [issue] = ws.store.issues_of("example")
        assert issue.status == "complete"
        assert ws.store.delivery_counts(issue.id) == {"sent": members}
    finally:
        ws.close()
