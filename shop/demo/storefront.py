"""Demo storefront: search synonyms and pinned hot words, the search index, and a decorated home page."""

from __future__ import annotations

from catalog.models import Product, SearchDocument, SearchHotWord, SearchSynonym
from catalog.search.index import search_index_rebuild

SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("纸尿裤", "尿不湿", "尿片"),
    ("拉拉裤", "学步裤"),
    ("奶粉", "配方奶"),
    ("口红", "唇膏"),
    ("面霜", "乳霜"),
    ("保温杯", "水杯"),
    ("四件套", "床单被套"),
    ("咖啡", "速溶咖啡"),
)
HOT_WORDS: tuple[tuple[str, bool], ...] = (("奶粉", True), ("纸尿裤", False), ("面膜", False), ("坚果", False))


def load_search_demo() -> str:
    """Synonyms and hot words once (skipped when an operator has any), then the index of every
    product if some product has none yet. Returns what was done, for the loader's report."""
    done = []
    if not SearchSynonym.objects.exists():
        SearchSynonym.objects.bulk_create(SearchSynonym(words=list(words)) for words in SYNONYMS)
        done.append(f"{len(SYNONYMS)} synonym groups")
    if not SearchHotWord.objects.exists():
        SearchHotWord.objects.bulk_create(SearchHotWord(word=word, sort=i, highlight=highlight)
                                          for i, (word, highlight) in enumerate(HOT_WORDS))
        done.append(f"{len(HOT_WORDS)} hot words")
    if SearchDocument.objects.count() < Product.objects.count():
        written = search_index_rebuild()["documents"]
        done.append(f"{written} products indexed")
    return ", ".join(done) or "skipped"
