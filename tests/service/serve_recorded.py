"""`digest serve` with every send attempt recorded: the test's view of what reached a provider.

The outbox names each message after its delivery id, so a message sent twice would overwrite
itself and never show. This wrapper appends one line per attempt (delivery id, address) to a log
of its own per process, flushed to disk before the batch goes out, then sends it through the
outbox after an optional delay (so a test can kill the process with a batch in flight).

    python tests/service/serve_recorded.py serve --config ... --home ...

Environment: DIGEST_TEST_ATTEMPTS (folder of the logs), DIGEST_TEST_BATCH_DELAY (seconds),
DIGEST_TEST_MAX_BATCH (messages per batch).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from digest.config import ProviderConfig, load_config
from digest.models import OutgoingMessage, SendResult
from digest.send import Transport, make_transport
from digest.service import Service, ServiceOptions
from digest.workspace import Workspace


class RecordingTransport:
    """Logs each attempt, waits, then hands the batch to the real transport."""

    name = "recording"
    supports_idempotency = True

    def __init__(self, inner: Transport, log: Path, delay: float, max_batch: int) -> None:
        self.inner = inner
        self.log = log
        self.delay = delay
        self.max_batch = min(max_batch, inner.max_batch)

    async def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        lines = "".join(f"{m.delivery_id} {m.to_email}\n" for m in messages).encode()
        descriptor = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, lines)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        if self.delay:
            await asyncio.sleep(self.delay)
        return await self.inner.send_batch(messages)

    async def aclose(self) -> None:
        await self.inner.aclose()


def main() -> None:
    """`digest serve --no-web` as its command runs it, with the recording transport passed in."""
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--poll", type=float, default=5.0)
    parser.add_argument("--no-web", action="store_true")
    args = parser.parse_args()

    folder = Path(os.environ["DIGEST_TEST_ATTEMPTS"])
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{os.getpid()}.log"
    delay = float(os.environ.get("DIGEST_TEST_BATCH_DELAY", "0"))
    max_batch = int(os.environ.get("DIGEST_TEST_MAX_BATCH", "100"))

    def recording(name: str, provider: ProviderConfig, home: Path) -> Transport:
        return RecordingTransport(make_transport(name, provider, home), log, delay, max_batch)

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with Workspace.open(load_config(args.config), args.home, transports=recording) as ws:
        options = ServiceOptions(poll_interval=args.poll, web=False)
        asyncio.run(Service(ws, config_path=ws.config.path, options=options).run())


if __name__ == "__main__":
    main()
