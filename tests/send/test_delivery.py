"""The ledger end to end: a frozen issue delivered through real transports to the sandbox.

Every subscriber gets exactly one message, per-message errors are recorded per recipient,
injected 429s and 5xx delay but never lose a message, 401 stops the issue at once, and a sender
killed with SIGKILL mid-send is resumed without duplicates or gaps.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.pipeline import freeze_and_send, run_digest
from digest.testing.sandbox import RunningSandbox, run_sandbox
from tests.send.helpers import (
    POSTMARK_TOKEN,
    RESEND_KEY,
    add_provider,
    configure,
    digest_process,
    recipients,
    workspace,
)


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with run_sandbox() as running:
        yield running


@pytest.mark.slow
def test_postmark_delivers_once_and_records_per_message_errors(
    example_dir: Path, home: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = configure(example_dir, "pm", 1200)
    add_provider(
        path,
        f'[providers.pm]\nkind = "postmark"\ntoken_env = "PM_TOKEN"\n'
        f'base_url = "{sandbox.base_url}"',
    )
    monkeypatch.setenv("PM_TOKEN", POSTMARK_TOKEN)
    sandbox.state.set_inactive("reader7@example.com")
    sandbox.state.set_invalid("reader8@example.com")
    sandbox.state.fail_next(2, status=429)  # the first two batch calls are throttled
    sandbox.state.fail_next(1, status=500)
    ws = workspace(path, home)
    try:
        report = asyncio.run(run_digest(ws, "example", max_wait=120))
        assert report.dispatch is not None
        assert report.dispatch.counts == {"sent": 1198, "suppressed": 1, "failed": 1}
        assert report.status == "partial"
        assert ws.store.is_suppressed("reader7@example.com")
        received = recipients(sandbox)
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
    path = configure(example_dir, "pm", 30)
    add_provider(
        path,
        f'[providers.pm]\nkind = "postmark"\ntoken_env = "PM_TOKEN"\n'
        f'base_url = "{sandbox.base_url}"',
    )
    monkeypatch.setenv("PM_TOKEN", "wrong-token")
    ws = workspace(path, home)
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
    ws = workspace(path, home)
    try:
        from digest.pipeline import resume_unfinished

        [resumed] = asyncio.run(resume_unfinished(ws, "example", max_wait=5))
        assert resumed.status == "complete" and resumed.counts == {"sent": 30}
    finally:
        ws.close()
    assert set(recipients(sandbox).values()) == {1}


def test_an_unsubscribe_after_freezing_is_honoured(
    example_dir: Path, home: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = configure(example_dir, "pm", 5)
    add_provider(
        path,
        f'[providers.pm]\nkind = "postmark"\ntoken_env = "PM_TOKEN"\n'
        f'base_url = "{sandbox.base_url}"',
    )
    monkeypatch.setenv("PM_TOKEN", POSTMARK_TOKEN)
    ws = workspace(path, home)
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
    assert "reader2@example.com" not in recipients(sandbox)


@pytest.mark.slow
def test_sigkill_mid_send_then_resume_delivers_each_subscriber_exactly_once(
    example_dir: Path, home: Path, sandbox: RunningSandbox
) -> None:
    """Resend takes the delivery ids as idempotency keys: a batch the provider accepted but
    the killed sender never recorded is answered from the provider's memory, not sent twice."""
    members = 2000
    path = configure(example_dir, "rs", members)
    add_provider(
        path,
        f'[providers.rs]\nkind = "resend"\ntoken_env = "RS_KEY"\nbase_url = "{sandbox.base_url}"',
    )
    path.write_text(
        path.read_text()
        .replace("lease_seconds = 300", "lease_seconds = 2")
        .replace("concurrency = 3 ", "concurrency = 2 ")
    )
    sandbox.state.slow_next(1000, 0.05)  # slow the provider so the kill lands mid-send
    env = {"RS_KEY": RESEND_KEY}
    args = ("--config", str(path), "--home", str(home))
    sender = digest_process("run", "example", *args, env=env)
    deadline = time.monotonic() + 60
    while len(sandbox.state.messages()) < 500:
        assert sender.poll() is None, sender.communicate()
        assert time.monotonic() < deadline, "the sender never got going"
        time.sleep(0.01)
    sender.send_signal(signal.SIGKILL)
    sender.wait()
    delivered_before = len(recipients(sandbox))
    assert 500 <= delivered_before < members

    sandbox.state.clear_faults()
    resumed = digest_process("resume", *args, env=env)
    _out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err.decode()
    received = recipients(sandbox)
    assert len(received) == members, "somebody was left out"
    assert set(received.values()) == {1}, "somebody got the issue twice"
    ws = workspace(path, home)
    try:
        [issue] = ws.store.issues_of("example")
        assert issue.status == "complete"
        assert ws.store.delivery_counts(issue.id) == {"sent": members}
    finally:
        ws.close()
