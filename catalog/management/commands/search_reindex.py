"""`manage.py search_reindex`: rebuild every product's search document and the vocabulary."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from catalog.search.index import search_index_rebuild


class Command(BaseCommand):
    help = "Rebuild the product search index (documents and vocabulary)."

    def handle(self, *args: Any, **options: Any) -> None:
        report = search_index_rebuild()
        self.stdout.write(f"search index: {report['documents']} documents, {report['terms_dropped']} words dropped")
