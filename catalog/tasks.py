"""Celery tasks of the catalog: thin wrappers around its services."""

from __future__ import annotations

from celery import shared_task

from catalog.search.index import search_index_rebuild


@shared_task(name="catalog.tasks.rebuild_search_index")
def rebuild_search_index() -> dict[str, int]:
    """Every product's search document rebuilt and the vocabulary recounted (catalog.search.index):
    repairs whatever a change outside the console (a bulk update) left stale. Idempotent."""
    return search_index_rebuild()
