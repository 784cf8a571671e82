"""A model's answers kept per article and prompt, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from digest.store import Store, tables


def test_answers_are_kept_and_found_by_key(store: Store) -> None:
    assert store.cached_summaries(["a" * 64]) == {}
    store.save_summaries(
        [
            ("a" * 64, "feed:1", "llama-3.2-1b", "The bridge reopened."),
            ("b" * 64, "feed:2", "llama-3.2-1b", "Die Brücke ist offen."),
        ]
    )
    assert store.cached_summaries(["b" * 64, "a" * 64, "c" * 64]) == {
        "a" * 64: "The bridge reopened.",
        "b" * 64: "Die Brücke ist offen.",
    }


def test_the_first_answer_kept_stays_and_long_names_fit(store: Store) -> None:
    """Two builds at once may both ask; the first answer kept is the one used afterwards."""
    long_article = "site:" + "x" * 3000
    store.save_summaries([("a" * 64, long_article, "m" * 300, "first")])
    store.save_summaries([("a" * 64, long_article, "m" * 300, "second")])
    store.save_summaries([])
    assert store.cached_summaries(["a" * 64]) == {"a" * 64: "first"}
    with store.engine.connect() as conn:
        row = conn.execute(select(tables.summaries)).one()
    assert (len(row.article), len(row.model), row.created_at is not None) == (2000, 200, True)


def test_many_keys_at_once(store: Store) -> None:
    store.save_summaries((f"{n:064d}", f"feed:{n}", "m", f"summary {n}") for n in range(900))
    found = store.cached_summaries(f"{n:064d}" for n in range(0, 1000, 3))
    assert len(found) == 300
    assert found[f"{897:064d}"] == "summary 897"
