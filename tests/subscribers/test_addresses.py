"""The address normalization: one person, one row, exactly as email-validator would have it."""

from __future__ import annotations

import random
import string

import pytest
from email_validator import EmailNotValidError

from digest.subscribers import normalize_email
from digest.subscribers.addresses import _full_normalize


def test_normalize_email() -> None:
    assert normalize_email("  Ada@Example.ORG ") == "ada@example.org"
    assert normalize_email("user+tag@sub.example.co.uk") == "user+tag@sub.example.co.uk"
    assert normalize_email("jörg@bücher.example") == "jörg@bücher.example"
    assert normalize_email("x@xn--bcher-kva.example") == "x@bücher.example"
    for bad in (
        "",
        "no-at",
        "a@b",
        "a@@b.org",
        "a b@example.org",
        "a@example..org",
        ".a@example.org",
        "a@localhost",
        "a@example.invalid",
        "a@-x.org",
    ):
        with pytest.raises(EmailNotValidError):
            normalize_email(bad)


def test_fast_path_agrees_with_email_validator() -> None:
    """The cached fast path must give exactly what email-validator gives, or fail as it does."""
    rng = random.Random(8058)
    alphabet = string.ascii_letters + string.digits + "._+-!#$%&'*/=?^`{|}~@\"() ,;:<>[]\\é"
    domains = [
        "example.org",
        "Example.COM",
        "a.b",
        "x.y.z",
        "-bad.org",
        "ok-.org",
        "1.2.3.4",
        "xn--bcher-kva.example",
        "localhost",
        "example.test",
        "ex_ample.org",
        "e.x",
        "a" * 64 + ".org",
        "example.o",
        "example.123",
    ]
    samples = [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        + rng.choice(["@", "@@", ""])
        + rng.choice(domains)
        for _ in range(3000)
    ]
    samples += ["a" * 65 + "@example.org", "a" * 240 + "@example.org", "Info@Example.org"]
    samples += [
        f"{rng.choice(['a', 'B.c', 'd+e', 'f_g'])}{n}@{rng.choice(domains)}" for n in range(500)
    ]
    valid = 0
    for sample in samples:
        try:
            expected = _full_normalize(sample)
        except EmailNotValidError:
            with pytest.raises(EmailNotValidError):
                normalize_email(sample)
            continue
        valid += 1
        assert normalize_email(sample) == expected, sample
    assert valid > 300  # both branches were exercised
