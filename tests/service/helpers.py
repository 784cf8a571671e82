"""Building blocks for the service tests: a configuration on disk, articles, many subscribers,
and a TCP proxy that makes a database unreachable and reachable again."""

from __future__ import annotations

import contextlib
import os
import select as io_select
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select

from digest.store import Store, tables

memberships, subscribers = tables.memberships, tables.subscribers


def write_article(folder: Path, slug: str, title: str, when: datetime | None = None) -> Path:
    """A Markdown article whose file time (what the folder source reads as published) is `when`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{slug}.md"
    path.write_text(
        f"---\ntitle: {title}\nurl: https://news.example.org/{slug}\n---\n\n# {title}\n\n"
        f"The council said on Monday that {title.lower()} would go ahead after a long debate, "
        "with work starting in the spring and a public meeting planned for residents.\n",
        encoding="utf-8",
    )
    stamp = (when or datetime.now(UTC)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def write_config(
    directory: Path,
    *,
    store_url: str | None = None,
    schedule: str = "0 8 * * MON",
    timezone: str = "Europe/Berlin",
    extra_digest: str = "",
    lease_seconds: float = 300.0,
    concurrency: int = 2,
    outbox: Path | None = None,
) -> Path:
    """config/digest.toml for one digest `brief` over a folder of articles and list `readers`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "articles").mkdir(exist_ok=True)
    store = f'[store]\nurl = "{store_url}"\n\n' if store_url else ""
    outbox_line = f'directory = "{outbox}"\n' if outbox else ""
    path = directory / "digest.toml"
    path.write_text(
        f"""{store}[send]
lease_seconds = {lease_seconds}
concurrency = {concurrency}

[providers.outbox]
kind = "outbox"
{outbox_line}
[sources.desk]
kind = "folder"
path = "articles"
title = "Desk"

[lists.readers]
title = "Readers"

[digests.brief]
title = "The Brief"
sources = ["desk"]
list = "readers"
provider = "outbox"
from = "The Brief <brief@news.example.org>"
schedule = "{schedule}"
timezone = "{timezone}"
window = "7d"
{extra_digest}
""",
        encoding="utf-8",
    )
    return path


def add_subscribers(
    store: Store, count: int, *, list_name: str = "readers", zones: list[str] | None = None
) -> int:
    """`count` active members of the list, inserted in bulk; returns the list id."""
    list_id = store.ensure_list(list_name, "Readers")
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        rows = [
            {
                "email": f"reader{n:05d}@example.org",
                "name": f"Reader {n}",
                "attributes": {"timezone": zones[n % len(zones)]} if zones else {},
                "created_at": now,
                "updated_at": now,
            }
            for n in range(count)
        ]
        conn.execute(insert(subscribers), rows)
        ids = conn.execute(
            select(subscribers.c.id).where(subscribers.c.email.like("reader%@example.org"))
        ).scalars()
        conn.execute(
            insert(memberships),
            [
                {
                    "list_id": list_id,
                    "subscriber_id": subscriber_id,
                    "status": "active",
                    "origin": "test",
                    "created_at": now,
                    "updated_at": now,
                }
                for subscriber_id in ids
            ],
        )
    return list_id


class TcpProxy:
    """A TCP relay on 127.0.0.1 to `target`: `stop()` drops every connection and refuses new
    ones (the database is unreachable), `start()` listens on the same port again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self.start()

    def url(self, database_url: str) -> str:
        """`database_url` with its host and port replaced by this proxy's."""
        scheme, rest = database_url.split("://", 1)
        credentials, _, path = rest.rpartition("@")
        database = path.split("/", 1)[1]
        return f"{scheme}://{credentials}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    @staticmethod
    def _pipe(one: socket.socket, other: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = io_select.select([one, other], [], [])
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        raise OSError("closed")
                    (other if source is one else one).sendall(data)
        except (OSError, ValueError):  # ValueError: the outage closed a socket under select()
            for sock in (one, other):
                with contextlib.suppress(OSError):
                    sock.close()
