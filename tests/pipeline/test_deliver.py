"""Delivering the example digest to the outbox: each message links to its reader's own
preferences page, and a reader who paused gets no issue built during the pause, then the next."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import time_machine

from digest.config import load_config
from digest.models import IssueStatus
from digest.pipeline import run_digest, sync_lists
from digest.workspace import Workspace

pytestmark = pytest.mark.slow  # whole runs of the example, a few of them


@pytest.fixture
def ws(example_dir: Path, home: Path) -> Iterator[Workspace]:
    workspace = Workspace.open(load_config(example_dir / "example.toml"), home)
    yield workspace
    workspace.close()


def _sent(ws: Workspace) -> dict[str, EmailMessage]:
    """The outbox, by recipient; emptied, so the next run's messages stand alone."""
    found = {}
    for path in sorted((ws.home / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        found[message["To"].addresses[0].addr_spec] = message
        path.unlink()
    return found


def _preferences_links(message: EmailMessage) -> set[str]:
    links = set()
    for kind in ("plain", "html"):
        part = message.get_body((kind,))
        assert part is not None
        links.update(
            re.findall(r"https://news\.example\.org/preferences/([\w.-]+)", part.get_content())
        )
    return links


def test_every_message_links_to_its_own_readers_preferences_page(ws: Workspace) -> None:
    report = asyncio.run(run_digest(ws, "example", max_wait=5))
    assert report.status == IssueStatus.COMPLETE, report.message
    sent = _sent(ws)
    assert len(sent) == 3
    for address, message in sent.items():
        row = ws.store.subscriber_by_email(address)
        assert row is not None
        [token] = _preferences_links(message)  # the same link in the HTML and the text
        assert ws.signer.read_preferences_token(token) == row.id


def test_a_paused_reader_skips_the_issues_built_meanwhile_and_gets_the_next(
    ws: Workspace, example_dir: Path
) -> None:
    sync_lists(ws)
    ada = ws.store.subscriber_by_email("ada@example.org")
    assert ada is not None
    start = datetime.now(UTC)
    ws.store.pause(ada.id, start + timedelta(weeks=2), source="web")

    report = asyncio.run(run_digest(ws, "example", max_wait=5))
    assert report.status == IssueStatus.COMPLETE, report.message
    assert sorted(_sent(ws)) == ["grace@example.net", "oneil@example.com"]
    assert ws.store.delivery_counts(report.issue_id or 0) == {"sent": 2}  # ada not even planned

    def new_story(n: int, moment: datetime) -> None:
        story = example_dir / "example" / "articles" / f"later-{n}.md"
        story.write_text(
            f"---\ntitle: Later story {n}\nurl: https://newsroom.example.org/later/{n}\n---\n\n"
            f"The harbour office said on Monday that the later story number {n} had begun, with "
            "work on the quay walls planned for the spring and the ferries running as usual.\n",
            encoding="utf-8",
        )
        os.utime(story, (moment.timestamp() - 3600, moment.timestamp() - 3600))

    # a week in, still paused: this issue is not hers
    with time_machine.travel(start + timedelta(weeks=1), tick=True):
        new_story(1, start + timedelta(weeks=1))
        report = asyncio.run(run_digest(ws, "example", max_wait=5))
        assert report.status == IssueStatus.COMPLETE, report.message
        assert "ada@example.org" not in _sent(ws)
    # the pause has ended: the next issue is hers again
    with time_machine.travel(start + timedelta(weeks=2, days=1), tick=True):
        new_story(2, start + timedelta(weeks=2, days=1))
        report = asyncio.run(run_digest(ws, "example", max_wait=5))
        assert report.status == IssueStatus.COMPLETE, report.message
        sent = _sent(ws)
        assert sorted(sent) == ["ada@example.org", "grace@example.net", "oneil@example.com"]
        assert "Later story 2" in sent["ada@example.org"].get_body(("plain",)).get_content()  # type: ignore[union-attr]
