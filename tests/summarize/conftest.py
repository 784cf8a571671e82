from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.summarize.fake_chat import FakeChat


@pytest.fixture
def fake_chat() -> Iterator[FakeChat]:
    fake = FakeChat().start()
    yield fake
    fake.stop()
