from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sources.hostile import HostileServer


@pytest.fixture
def server() -> Iterator[HostileServer]:
    """A fresh local HTTP server on 127.0.0.1 for one test."""
    running = HostileServer().start()
    yield running
    running.stop()
