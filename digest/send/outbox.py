"""The outbox transport: each message as an RFC 5322 `.eml` file, for offline runs and tests.

A file is named after its delivery id and written atomically (temporary file, then rename), so
a batch written again after a crash replaces the same files instead of adding copies. The
files are 0600 and a folder the outbox creates 0700: they hold subscribers' addresses.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from digest.files import create_private_file, private_folder
from digest.models import Outcome, OutgoingMessage, SendResult


class OutboxTransport:
    name = "outbox"
    max_batch = 200
    supports_idempotency = True

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, delivery_id: int) -> Path:
        return self.directory / f"{delivery_id:09d}.eml"

    def _write(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        private_folder(self.directory)
        results = []
        for message in messages:
            final = self.path_for(message.delivery_id)
            temporary = final.with_suffix(".tmp")
            with os.fdopen(create_private_file(temporary), "wb") as handle:
                handle.write(message.mime)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, final)
            results.append(SendResult(message.delivery_id, Outcome.SENT, final.name))
        return results

    async def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        return await asyncio.to_thread(self._write, messages)

    async def aclose(self) -> None:
        return None
