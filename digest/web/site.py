"""What every route group shares: the workspace, the pages and the client's address."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from digest.config import Config, DigestConfig, ListConfig
from digest.store import Store
from digest.tokens import LinkSigner
from digest.web.middleware import client_address
from digest.web.pages import Pages
from digest.workspace import Workspace

__all__ = ["Site"]


@dataclass
class Site:
    """The web app's view of the workspace, shared by the route groups."""

    ws: Workspace
    pages: Pages = field(default_factory=Pages)

    @property
    def config(self) -> Config:
        return self.ws.config  # read each time: the service may reload the configuration

    @property
    def store(self) -> Store:
        return self.ws.store

    @property
    def signer(self) -> LinkSigner:
        return self.ws.signer

    def client(self, request: Request) -> str:
        return client_address(request, self.config.web)

    def list_title(self, list_id: int) -> tuple[str, ListConfig | None]:
        """A list's title as its readers know it (`reading_title`; its name when it is no
        longer configured) and its configuration."""
        name = self.store.list_name(list_id) or ""
        configured = self.config.lists.get(name)
        return (self.reading_title(name) if configured else name), configured

    def digests_of(self, list_name: str) -> list[tuple[str, DigestConfig]]:
        """The digests sent to a list, in the configuration's order."""
        return [(name, d) for name, d in self.config.digests.items() if d.list == list_name]

    def reading_title(self, list_name: str) -> str:
        """What a subscriber calls a list: the titles of the digests sent to it ("A and B"),
        else the list's own title, else its name."""
        titles = list(dict.fromkeys(d.title for _, d in self.digests_of(list_name)))
        if titles:
            return titles[0] if len(titles) == 1 else f"{', '.join(titles[:-1])} and {titles[-1]}"
        configured = self.config.lists.get(list_name)
        return configured.title if configured else list_name
