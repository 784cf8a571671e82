"""A sandbox on 127.0.0.1 for the sandbox's own tests."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from digest.testing.sandbox import RunningSandbox, SandboxConfig, run_sandbox


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[RunningSandbox]:
    with run_sandbox() as running:
        yield running


@pytest.fixture
def sandbox(sandbox_server: RunningSandbox) -> Iterator[RunningSandbox]:
    sandbox_server.state.reset()
    sandbox_server.state.config = SandboxConfig()
    yield sandbox_server
    sandbox_server.state.reset()


@pytest.fixture(scope="session")
def tls() -> ssl.SSLContext:
    return ssl.create_default_context()  # once: loading CA certificates is slow


@pytest.fixture
async def http(sandbox: RunningSandbox, tls: ssl.SSLContext) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose base URL is the sandbox."""
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=5, verify=tls) as client:
        yield client
