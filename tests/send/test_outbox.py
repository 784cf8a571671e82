"""The outbox: one .eml file per delivery, readable by Digest's user only."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from digest.models import OutgoingMessage
from digest.send.outbox import OutboxTransport


@pytest.fixture
def umask_zero() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("umask_zero")
async def test_messages_are_0600_files_in_a_0700_folder_whatever_the_umask(
    tmp_path: Path, make_messages: Callable[[int], list[OutgoingMessage]]
) -> None:
    transport = OutboxTransport(tmp_path / "outbox")
    messages = make_messages(2)
    await transport.send_batch(messages)
    await transport.send_batch(messages[:1])  # written again after a crash: replaced
    assert stat.S_IMODE((tmp_path / "outbox").stat().st_mode) == 0o700
    files = sorted((tmp_path / "outbox").iterdir())
    assert [f.name for f in files] == ["000000001.eml", "000000002.eml"]
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    assert files[0].read_bytes() == messages[0].mime
