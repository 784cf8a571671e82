"""Where the project's shared reference material is: `../shared` beside the checkout, or the
folder `$DIGEST_SHARED` names. Tests and benchmarks find the extraction corpus through it, so
no machine's own path is written anywhere."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["shared_folder"]

CHECKOUT = Path(__file__).resolve().parents[2]


def shared_folder(*parts: str) -> Path | None:
    """`parts` under the shared folder, or None when it is not there."""
    base = Path(os.environ["DIGEST_SHARED"]) if os.environ.get("DIGEST_SHARED") else None
    for root in (base, CHECKOUT.parent / "shared"):
        if root is not None and (found := root.joinpath(*parts)).exists():
            return found
    return None
