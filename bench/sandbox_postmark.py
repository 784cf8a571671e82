"""How many messages per second go through PostmarkTransport into the sandbox on loopback.

The sandbox runs in its own process (`python -m digest.testing.sandbox`), as in the crash test;
this process builds personalized messages and sends them in batches of 500, a few batches in
flight at once. Prints the figures and the machine.

    PYTHONPATH=. python bench/sandbox_postmark.py [--messages 20000] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import subprocess
import sys
import time

import httpx

from digest.models import Outcome, OutgoingMessage
from digest.send.postmark import PostmarkTransport

HTML = (
    "<html><body>"
    + "".join(
        f"<h2>Article {i}</h2><p>{'A summary sentence about the article. ' * 6}</p>"
        for i in range(12)
    )
    + '<p><a href="https://news.example.org/u/{token}">Unsubscribe</a></p></body></html>'
)
TEXT = "\n\n".join(f"Article {i}\n{'A summary sentence. ' * 6}" for i in range(12))


def message(i: int) -> OutgoingMessage:
    unsubscribe = f"https://news.example.org/u/{i}-token"
    return OutgoingMessage(
        delivery_id=i,
        to_email=f"reader{i}@example.com",
        to_name="",
        from_addr="Weekly Digest <digest@news.example.org>",
        reply_to=None,
        subject="This week",
        html=HTML.replace("{token}", f"{i}-token"),
        text=TEXT + f"\n\nUnsubscribe: {unsubscribe}\n",
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        mime=b"",
        tag="weekly",
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(total: int, concurrency: int, base: str) -> None:
    messages = [message(i) for i in range(1, total + 1)]
    batches = [messages[i : i + 500] for i in range(0, total, 500)]
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for _ in range(100):
            try:
                await client.get("/_sandbox/stats")
                break
            except httpx.TransportError:
                await asyncio.sleep(0.05)
        transport = PostmarkTransport("pm-sandbox-token", base_url=base, client=client)
        await transport.send_batch(messages[:10])  # warm up the connection
        await client.delete("/_sandbox/messages")
        queue = list(batches)
        sent = 0

        async def worker() -> None:
            nonlocal sent
            while queue:
                batch = queue.pop()
                results = await transport.send_batch(batch)
                sent += sum(r.outcome is Outcome.SENT for r in results)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        stats = (await client.get("/_sandbox/stats")).json()
    size = len(transport.payload(batches[0])) / 1e6
    print(
        f"machine: {os.cpu_count()} cpus, python {platform.python_version()}, {platform.machine()}"
    )
    print(f"batch body: {size:.2f} MB for 500 messages ({len(HTML)} chars of html each)")
    print(
        f"sent {sent} messages in {len(batches)} batches, {concurrency} in flight: "
        f"{elapsed:.2f} s, {sent / elapsed:,.0f} messages/s"
    )
    print(f"sandbox recorded {stats['messages']} messages, {stats['duplicates']} duplicates")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "digest.testing.sandbox", "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    try:
        asyncio.run(run(args.messages, args.concurrency, f"http://127.0.0.1:{port}"))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
