"""Link tokens: the fast unsubscribe signer makes exactly what the serializer would, and only
genuine tokens are read back."""

from __future__ import annotations

import pytest

from digest.tokens import LinkSigner


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
