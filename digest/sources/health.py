"""Each configured source's health as people read it: its state, when it last worked, the items
its last fetch had, its failures in a row and why. `digest sources` and the desk show these."""

from __future__ import annotations

from typing import Any

from digest.config import Config

__all__ = ["source_rows"]


def source_rows(config: Config, health: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per configured source, in the order configured."""
    rows = []
    for name, source in config.sources.items():
        record = health.get(name, {})
        failures = int(record.get("consecutive_failures") or 0)
        if not record:
            state = "not run yet"
        elif failures:
            state = "failing"
        else:
            state = "ok"
        rows.append(
            {
                "source": name,
                "kind": source.kind,
                "location": source.url or source.path,
                "state": state,
                "last_success": record.get("last_success"),
                "last_new_item": record.get("last_new_item"),
                "items_seen": int(record.get("items_seen") or 0),  # since it was first read
                "last_items": record.get("last_items"),  # in its last successful fetch
                "consecutive_failures": failures,
                "last_error": record.get("last_error") if failures else None,
                "last_error_at": record.get("last_error_at"),
            }
        )
    return rows
