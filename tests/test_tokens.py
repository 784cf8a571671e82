"""Link tokens: the fast unsubscribe signer makes exactly what the serializer would, and only
genuine tokens are read back; the signing key is made once, atomically, and is never weak."""

from __future__ import annotations

import multiprocessing
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.errors import ConfigError
from digest.tokens import KEY_FILE, MIN_KEY_BYTES, LinkSigner, load_secret


@pytest.mark.parametrize(
    ("subscriber", "mailing_list"), [(1, 1), (0, 0), (987654321, 42), (2**40, 7)]
)
def test_fast_unsubscribe_tokens_equal_the_serializers(subscriber: int, mailing_list: int) -> None:
    signer = LinkSigner("a-test-key-that-is-long-enough-for-hmac")
    token = signer.unsubscribe_token(subscriber, mailing_list)
    assert token == signer._unsubscribe.dumps([subscriber, mailing_list])
    assert signer.read_unsubscribe_token(token) == (subscriber, mailing_list)


def test_forged_truncated_and_foreign_tokens_are_refused() -> None:
    signer = LinkSigner("key-one-key-one-key-one-key-one")
    token = signer.unsubscribe_token(5, 2)
    assert signer.read_unsubscribe_token(token[:-3]) is None
    payload, _, signature = token.partition(".")
    assert signer.read_unsubscribe_token(f"WzYsMl0.{signature}") is None  # [6,2], old signature
    assert LinkSigner("another-key-another-key-another").read_unsubscribe_token(token) is None
    assert "@" not in token and payload  # ids only, never an address


@pytest.mark.parametrize("subscriber", [1, 0, 987654321, 2**40])
def test_fast_preferences_tokens_equal_the_serializers(subscriber: int) -> None:
    signer = LinkSigner("a-test-key-that-is-long-enough-for-hmac")
    token = signer.preferences_token(subscriber)
    assert token == signer._preferences.dumps([subscriber])
    assert signer.read_preferences_token(token) == subscriber


def test_a_token_of_one_kind_is_never_read_as_another() -> None:
    signer = LinkSigner("key-two-key-two-key-two-key-two")
    preferences = signer.preferences_token(5)
    unsubscribe = signer.unsubscribe_token(5, 2)
    assert signer.read_unsubscribe_token(preferences) is None
    assert signer.read_preferences_token(unsubscribe) is None
    assert signer.read_preferences_token(signer.issue_token(5)) is None
    assert signer.read_preferences_token(preferences[:-2]) is None
    assert LinkSigner("another-key-another-key-another").read_preferences_token(preferences) is None
    assert "@" not in preferences


# The signing key: made once, atomically, never weak (issue 13, point 2).


@pytest.fixture
def umask_zero() -> Iterator[None]:
    """The most permissive umask: modes that hold here hold under any umask."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIGEST_TEST_KEY", raising=False)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask_zero", "no_key_env")
def test_the_key_file_is_made_once_0600_in_a_0700_data_directory(tmp_path: Path) -> None:
    home = tmp_path / "fresh" / "var"
    key = load_secret("DIGEST_TEST_KEY", home)
    assert len(key.encode()) >= MIN_KEY_BYTES
    assert _mode(home) == 0o700
    assert _mode(home / KEY_FILE) == 0o600
    assert (home / KEY_FILE).read_text(encoding="utf-8") == key
    assert [p.name for p in home.iterdir()] == [KEY_FILE]  # no temporary file left behind
    assert load_secret("DIGEST_TEST_KEY", home) == key


@pytest.mark.usefixtures("umask_zero", "no_key_env")
def test_an_empty_key_file_counts_as_absent_and_is_replaced(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_text("\n", encoding="utf-8")  # an interrupted start
    key = load_secret("DIGEST_TEST_KEY", tmp_path)
    assert len(key.encode()) >= MIN_KEY_BYTES
    assert (tmp_path / KEY_FILE).read_text(encoding="utf-8") == key
    assert _mode(tmp_path / KEY_FILE) == 0o600
    assert load_secret("DIGEST_TEST_KEY", tmp_path) == key


@pytest.mark.usefixtures("umask_zero", "no_key_env")
def test_without_hard_links_the_key_is_renamed_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(source: object, target: object) -> None:
        raise PermissionError(1, "Operation not permitted")  # as on some network file systems

    monkeypatch.setattr(os, "link", no_links)
    key = load_secret("DIGEST_TEST_KEY", tmp_path)
    assert (tmp_path / KEY_FILE).read_text(encoding="utf-8") == key
    assert _mode(tmp_path / KEY_FILE) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]
    assert load_secret("DIGEST_TEST_KEY", tmp_path) == key


@pytest.mark.usefixtures("no_key_env")
def test_a_short_key_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_text("x" * (MIN_KEY_BYTES - 1) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_secret("DIGEST_TEST_KEY", tmp_path)
    message = str(refused.value)
    assert "\n" not in message
    assert str(tmp_path / KEY_FILE) in message and "31 bytes" in message
    assert "delete the file" in message
    (tmp_path / KEY_FILE).write_text("x" * MIN_KEY_BYTES + "\n", encoding="utf-8")
    assert load_secret("DIGEST_TEST_KEY", tmp_path) == "x" * MIN_KEY_BYTES


def test_a_short_key_in_the_environment_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_TEST_KEY", "é" * 15 + "x")  # 31 bytes in UTF-8, 16 characters
    with pytest.raises(ConfigError, match=r"^\$DIGEST_TEST_KEY: .* 31 bytes, at least 32"):
        load_secret("DIGEST_TEST_KEY", tmp_path)
    assert not (tmp_path / KEY_FILE).exists()  # refused, not replaced by a file's key
    monkeypatch.setenv("DIGEST_TEST_KEY", "é" * 16)
    assert load_secret("DIGEST_TEST_KEY", tmp_path) == "é" * 16


def _start_and_load(home: str, barrier: Any, results: Any) -> None:
    """One process starting up: wait for the others, then load the key at the same moment."""
    barrier.wait()
    try:
        results.put(("key", load_secret("DIGEST_TEST_KEY", Path(home))))
    except BaseException as exc:
        results.put(("error", repr(exc)))


@pytest.mark.slow
@pytest.mark.usefixtures("no_key_env")
@pytest.mark.parametrize("start", ["fresh", "empty file"])
def test_processes_starting_together_share_one_key(tmp_path: Path, start: str) -> None:
    context = multiprocessing.get_context("spawn")
    processes, rounds = 4, 6
    for number in range(rounds):
        home = tmp_path / f"round{number}" / "var"
        if start == "empty file":
            home.mkdir(parents=True)
            (home / KEY_FILE).touch()
        barrier = context.Barrier(processes)
        results = context.Queue()
        workers = [
            context.Process(target=_start_and_load, args=(str(home), barrier, results))
            for _ in range(processes)
        ]
        for worker in workers:
            worker.start()
        answers = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0
        assert {kind for kind, _ in answers} == {"key"}, answers
        keys = {key for _, key in answers}
        assert all(len(key) >= MIN_KEY_BYTES for key in keys), answers
        assert keys == {(home / KEY_FILE).read_text(encoding="utf-8")}, answers
        assert sorted(p.name for p in home.iterdir()) == [KEY_FILE]
