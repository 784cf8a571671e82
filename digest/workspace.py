"""The workspace: configuration, store and data directory, opened once per process.

It is the one object the CLI, the service and the web app open (`Workspace.open`), and the
seams tests plug into: the transport factory (which provider adapter sends) and the extractor
(which code reads an article out of a page) are passed in, never patched by module path.

    config = load_config(path)
    with Workspace.open(config, resolve_home(None, config)) as ws:
        ws.store.issues_of("weekly")
        transport = ws.transport("weekly")   # the digest's provider
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol

from digest.config import Config, ProviderConfig
from digest.errors import UsageError
from digest.fetch import USER_AGENT, Fetcher
from digest.files import private_folder
from digest.models import ExtractedArticle
from digest.progress import SILENT, Progress
from digest.send import Transport, make_transport
from digest.store import Store, open_store
from digest.tokens import LinkSigner, load_secret

__all__ = ["Extractor", "TransportFactory", "Workspace", "ensure_folder", "resolve_home"]

DEFAULT_HOME = "var"

TransportFactory = Callable[[str, ProviderConfig, Path], Transport]
"""(provider name, its configuration, data directory) -> a transport; `make_transport` by
default, a recording or faulty one in tests."""


class Extractor(Protocol):
    """What the pipeline needs of extraction; `digest.extract` (the module) is the real one."""

    def extract_document(
        self,
        data: bytes,
        *,
        url: str | None = None,
        content_type: str | None = None,
        filename: str | None = None,
    ) -> ExtractedArticle: ...

    def extract_feed_item(
        self, content_html: str | None, *, url: str | None, title: str | None
    ) -> ExtractedArticle | None: ...


def resolve_home(explicit: Path | None, config: Config) -> Path:
    """The data directory: `--home`, else `$DIGEST_HOME`, else the configuration's `home`, else
    `var` beside the configuration file. Relative paths from the file are relative to its
    folder, so a cron job run from another working directory finds the same store."""
    if explicit is not None:
        return explicit
    if os.environ.get("DIGEST_HOME"):
        return Path(os.environ["DIGEST_HOME"])
    return config.resolve(config.home or DEFAULT_HOME)


def ensure_folder(path: Path, what: str, *, private: bool = False) -> Path:
    """Create the folder if needed; one that cannot be made is a usage error naming `what`
    (the data directory, `--out`...), never a traceback. A `private` one (the data directory)
    is created 0700."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{what} {path}: not a folder")
    try:
        if private:
            private_folder(path)
        else:
            path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot create the folder ({exc.strerror})") from None
    return path


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Workspace:
    """Everything a command works with: configuration, data directory, store, link signer."""

    config: Config
    home: Path
    store: Store
    signer: LinkSigner
    owner: str = field(default_factory=_owner)
    transports: TransportFactory = make_transport
    extractor_override: Extractor | None = None
    progress: Progress = SILENT  # the CLI shows progress bars on a terminal

    @classmethod
    def open(
        cls,
        config: Config,
        home: Path,
        *,
        transports: TransportFactory | None = None,
        extractor: Extractor | None = None,
        migrate: bool = True,
    ) -> Workspace:
        """Open the store (migrating it unless told not to) and the link signer."""
        store = open_store(
            config.store.url, ensure_folder(home, "data directory", private=True), migrate=migrate
        )
        try:
            signer = LinkSigner(load_secret(config.web.secret_env, home))
        except BaseException:
            store.close()
            raise
        return cls(
            config,
            home,
            store,
            signer,
            transports=transports or make_transport,
            extractor_override=extractor,
        )

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def extractor(self) -> Extractor:
        """The extractor in use; the real one is loaded on first use (it pulls in lxml and
        trafilatura, which a run whose articles are all known never needs)."""
        if self.extractor_override is None:
            import digest.extract  # lazy: start-up time of runs that extract nothing

            self.extractor_override = digest.extract
        return self.extractor_override

    def transport(self, provider: str) -> Transport:
        """A transport for the named provider (close it with `aclose`)."""
        return self.transports(provider, self.config.providers[provider], self.home)

    def fetcher(self) -> Fetcher:
        """A fetcher with the configuration's `[fetch]` limits and the store's validators; it
        reaches private networks only at the sources' hosts and `fetch.allow_private`."""
        limits = self.config.fetch
        return Fetcher(
            validators=self.store,
            max_connections=limits.max_connections,
            per_host=limits.per_host,
            timeout=limits.timeout,
            user_agent=limits.user_agent or USER_AGENT,
            allow_private=[*limits.allow_private, *self.config.source_hosts()],
        )
