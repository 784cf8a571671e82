"""Email addresses as Digest stores them: one person, one normalized address."""

from __future__ import annotations

from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT

__all__ = ["normalize_email"]


@lru_cache(maxsize=100_000)
def _plain_domain(domain: str) -> bool:
    """Whether email-validator accepts this ASCII domain unchanged (but for case).

    Cached: a list has few distinct domains, and this is where email-validator spends its time.
    """
    try:
        checked = validate_email(f"a@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return False
    return checked.domain == domain.lower() and checked.ascii_domain == domain.lower()


def normalize_email(raw: str) -> str:
    """The address as stored: syntax checked by email-validator (no DNS), then lower-cased.

    Lower-casing the local part too is deliberate: one person, one row, even when their address
    was typed with capitals in one place and not in another (no mainstream mailbox provider
    treats case as significant). Plain ASCII addresses take a fast path that gives exactly what
    email-validator gives (tests compare both); everything else goes through email-validator.
    """
    text = raw.strip()
    local, at, domain = text.rpartition("@")
    if (
        at
        and text.isascii()
        and len(text) <= 254
        and DOT_ATOM_TEXT.match(local)
        and _plain_domain(domain)
    ):
        return text.lower()
    checked = validate_email(text, check_deliverability=False)
    return checked.normalized.lower()


def _full_normalize(raw: str) -> str:
    """email-validator alone, for comparing with the fast path in tests."""
    return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
