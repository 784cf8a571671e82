"""What a crash or a lost answer can send twice, provider by provider (the README's table).

* SMTP records each message as the server accepts it and sends the next only then: a sender
  killed with SIGKILL mid-batch, twice, leaves at most one message per kill to go out twice
  (real `digest` processes against a real aiosmtpd server).
* Postmark and Mailgun are asked before a delivery in doubt is sent again: a batch the provider
  accepted whose answer was lost (the sandbox's `after` faults), or whose sender was killed
  before recording it, is found there, marked sent and not sent again.
* SendGrid cannot be asked (its activity search is a paid add-on): a lost answer sends that
  request's messages again, and nothing more.
"""

from __future__ import annotations

import asyncio
import collections
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from digest.pipeline import run_digest
from digest.testing.sandbox import RunningSandbox, run_sandbox
from tests.send.helpers import (
    SECRETS,
    add_provider,
    configure,
    digest_process,
    recipients,
    sandbox_provider,
    send_settings,
    workspace,
)


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with run_sandbox() as running:
        yield running


def _wait_for(check: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not check():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()


def _finish(process: subprocess.Popen[bytes]) -> str:
    _out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err.decode()
    return err.decode()


# -- sequential: SMTP ---------------------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler that counts what each recipient received, a little slowly."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        with self._lock:
            for address in envelope.rcpt_tos:
                self.received[address] += 1
        return "250 2.0.0 Queued"

    def total(self) -> int:
        with self._lock:
            return sum(self.received.values())


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Inbox(delay=0.002)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.mark.slow
def test_smtp_killed_twice_mid_send_sends_at_most_one_message_twice_per_kill(
    example_dir: Path, home: Path, inbox: tuple[Inbox, int]
) -> None:
    server, port = inbox
    members = 1500
    path = configure(example_dir, "relay", members)
    add_provider(
        path,
        f'[providers.relay]\nkind = "smtp"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"',
    )
    send_settings(path, lease_seconds=1)
    args = ("--config", str(path), "--home", str(home))
    sender = digest_process("run", "example", *args, env={})
    for kill_at in (450, 950):  # mid-batch (batches of 100)
        _wait_for(lambda at=kill_at: server.total() >= at, f"{kill_at} messages", sender)
        _kill(sender)
        assert server.total() < members, "killed after the end, not mid-send"
        sender = digest_process("resume", *args, env={})
    _finish(sender)
    assert len(server.received) == members, "somebody was left out"
    twice = {address: n for address, n in server.received.items() if n > 1}
    assert sum(n - 1 for n in twice.values()) <= 2, f"more than one per kill: {twice}"
    ws = workspace(path, home)
    try:
        [issue] = ws.store.issues_of("example")
        assert issue.status == "complete"
        assert ws.store.delivery_counts(issue.id) == {"sent": members}
    finally:
        ws.close()


# -- reconciled: Postmark and Mailgun -------------------------------------------------------------


@pytest.mark.parametrize("provider", ["postmark", "mailgun"])
def test_an_accepted_batch_whose_answer_was_lost_is_found_at_the_provider_not_resent(
    example_dir: Path,
    home: Path,
    sandbox: RunningSandbox,
    monkeypatch: pytest.MonkeyPatch,
    provider: str,
) -> None:
    members = 250
    path = configure(example_dir, provider, members)
    add_provider(path, sandbox_provider(provider, sandbox))
    send_settings(path, reconcile_after=0)
    # the first two requests are processed and recorded, then answered 502 (the answer "lost")
    sandbox.state.fail_next(2, status=502, after=True, provider=provider)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    ws = workspace(path, home)
    try:
        report = asyncio.run(run_digest(ws, "example", max_wait=60))
    finally:
        ws.close()
    assert report.dispatch is not None and report.dispatch.counts == {"sent": members}
    received = recipients(sandbox)
    assert len(received) == members and set(received.values()) == {1}
    assert sandbox.state.stats()["counters"].get(f"searches.{provider}", 0) > 0


def test_a_failed_search_leaves_the_deliveries_in_doubt_until_the_provider_can_be_asked(
    example_dir: Path, home: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = 150
    path = configure(example_dir, "postmark", members)
    add_provider(path, sandbox_provider("postmark", sandbox))
    send_settings(path, reconcile_after=0)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    sandbox.state.fail_next(1, status=500, after=True)  # the first batch's answer is lost
    sandbox.state.fail_next(1, status=503, on="search")  # and the first search fails
    ws = workspace(path, home)
    try:
        report = asyncio.run(run_digest(ws, "example", max_wait=60))
    finally:
        ws.close()
    assert report.dispatch is not None and report.dispatch.counts == {"sent": members}
    assert set(recipients(sandbox).values()) == {1} and len(recipients(sandbox)) == members
    assert sandbox.state.stats()["counters"]["status.503"] == 1


def test_sendgrid_cannot_be_asked_so_a_lost_answer_sends_that_request_again(
    example_dir: Path, home: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = 40
    path = configure(example_dir, "sendgrid", members)
    add_provider(path, sandbox_provider("sendgrid", sandbox))
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    sandbox.state.fail_next(1, status=502, after=True)  # one request (one message) lost
    ws = workspace(path, home)
    try:
        report = asyncio.run(run_digest(ws, "example", max_wait=60))
    finally:
        ws.close()
    assert report.dispatch is not None and report.dispatch.counts == {"sent": members}
    received = recipients(sandbox)
    assert len(received) == members
    assert sorted(received.values())[-2:] == [1, 2], "exactly the lost request went out twice"


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["postmark", "mailgun"])
def test_a_sender_killed_after_the_provider_accepted_is_reconciled_by_the_next(
    example_dir: Path, home: Path, sandbox: RunningSandbox, provider: str
) -> None:
    """The provider records each request at once and answers half a second later; the sender is
    killed meanwhile, its batches accepted and never recorded. The next sender takes them over
    once their lease ends, finds them at the provider and sends nobody the issue twice."""
    members = 600
    path = configure(example_dir, provider, members)
    add_provider(path, sandbox_provider(provider, sandbox))
    send_settings(path, lease_seconds=1, reconcile_after=0.5)
    sandbox.state.slow_next(100_000, 0.5, after=True)
    args = ("--config", str(path), "--home", str(home))
    sender = digest_process("run", "example", *args, env={})
    _wait_for(lambda: len(sandbox.state.messages()) >= 200, "200 accepted messages", sender)
    _kill(sender)
    accepted = len(sandbox.state.messages())
    assert accepted < members, "killed after the end, not mid-send"
    sandbox.state.clear_faults()
    log = _finish(digest_process("-v", "resume", *args, env={}))
    received = recipients(sandbox)
    assert len(received) == members, "somebody was left out"
    assert set(received.values()) == {1}, "somebody got the issue twice"
    assert "already had" in log, "nothing was reconciled: the kill came between batches"
    ws = workspace(path, home)
    try:
        [issue] = ws.store.issues_of("example")
        assert ws.store.delivery_counts(issue.id) == {"sent": members}
    finally:
        ws.close()
