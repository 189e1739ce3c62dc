"""Writes of the search index: a product's document, the vocabulary, and a full rebuild.

The console saves a product, its SKUs or its category and then calls `search_document_refresh`
in the same transaction, so a product renamed is found under its new name as soon as the save
commits (and a rolled-back save leaves the old document). The import, the demo loader and the
nightly `search.rebuild` job use the same function; the nightly rebuild also recounts how many
products each word appears in (what suggestions are ordered by) and drops words no product uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Prefetch

from catalog.models import Category, Product, ProductTag, SearchDocument, SearchHotWord, SearchSynonym, SearchTerm, Sku
from catalog.search import text

# A tsvector position is at most 16383; a product's words stay far below it, this only bounds it.
MAX_POSITION = 16_000
# Where a word was found, as a tsvector weight: ranking weighs A highest (catalog.search.query).
NAME, CATEGORY, SUBTITLE, DETAIL = "A", "B", "C", "D"
REFRESH_CHUNK = 500


@dataclass
class _Document:
    """Lexemes by position with their weight, written as a tsvector literal (no parser involved,
    so the database's locale cannot cut a Chinese word differently from jieba)."""

    positions: dict[str, list[str]] = field(default_factory=dict)
    next_position: int = 1

    def add(self, lexemes: Iterable[str], weight: str) -> None:
        for lexeme in lexemes:
            if not text.is_lexeme(lexeme) or len(lexeme) > 64 or self.next_position > MAX_POSITION:
                continue
            self.positions.setdefault(lexeme, []).append(f"{self.next_position}{weight}")
            self.next_position += 1

    def literal(self) -> str:
        return " ".join(f"'{lexeme}':{','.join(spots)}" for lexeme, spots in self.positions.items())


def catalogue_words(product: Product) -> set[str]:
    """Words the catalogue itself teaches the segmenter: the brand (the first word of a name
    written "品牌 品名"), the category names and the SKUs' spec values."""
    found: set[str] = set()
    pieces = text.normalise(product.name).split(" ")
    if len(pieces) > 1:
        found.add(pieces[0])
    category = product.category
    found.add(category.name)
    if category.parent is not None:
        found.add(category.parent.name)
    for sku in getattr(product, "search_skus", []):
        for value in (sku.specs or {}).values():
            found.update(str(value).split())
    return {w for w in (text.normalise(w) for w in found) if text.is_chinese(w) and text.is_lexeme(w)}


def _with_spellings(words: Iterable[str]) -> list[str]:
    out: list[str] = []
    for word in words:
        out.append(word)
        out.extend(text.spellings(word))
    return out


def document_for(product: Product) -> tuple[str, str, set[str]]:
    """(tsvector literal, trigram text, words for the vocabulary) of a product."""
    doc = _Document()
    name_words = text.words(product.name)
    doc.add(_with_spellings(name_words), NAME)
    doc.add(text.run_spellings(product.name), NAME)
    category = product.category
    category_text = " ".join(filter(None, [category.parent.name if category.parent else "", category.name]))
    tag_labels = " ".join(str(ProductTag(tag).label) for tag in product.tags or [] if tag in ProductTag.values)
    category_words = text.words(f"{category_text} {tag_labels}")
    pieces = text.normalise(product.name).split(" ")
    brand = [pieces[0]] if len(pieces) > 1 and text.is_lexeme(pieces[0]) else []
    doc.add(_with_spellings([*category_words, *brand]), CATEGORY)
    subtitle_words = text.words(product.subtitle)
    doc.add(_with_spellings(subtitle_words), SUBTITLE)
    spec_text = " ".join(str(v) for sku in getattr(product, "search_skus", []) for v in (sku.specs or {}).values())
    spec_words = text.words(spec_text)
    doc.add(_with_spellings(spec_words), DETAIL)
    doc.add(text.bigrams(f"{product.name} {product.subtitle}"), DETAIL)
    trigram_text = text.normalise(f"{product.name} {product.subtitle} {category_text}")
    vocabulary = {w for w in [*name_words, *category_words, *brand, *subtitle_words, *spec_words]
                  if len(w) >= 2 or text.is_chinese(w)}
    return doc.literal(), trigram_text, vocabulary


def search_document_refresh(*, product_ids: Iterable[int]) -> int:
    """Rebuild the search documents of `product_ids` (every product, on or off the shelf: the
    shelf is checked when searching) and add their new words to the vocabulary. Returns how many
    documents were written. Idempotent; runs in the caller's transaction when there is one.

    A few queries per REFRESH_CHUNK products, whatever their number of SKUs.
    """
    ids = sorted(set(product_ids))
    written = 0
    for start in range(0, len(ids), REFRESH_CHUNK):
        written += _refresh_chunk(ids[start:start + REFRESH_CHUNK])
    return written


def _refresh_chunk(ids: list[int]) -> int:
    skus = Sku.objects.filter(is_active=True).only("id", "product_id", "specs").order_by("id")
    products = list(
        Product.objects.filter(pk__in=ids).select_related("category", "category__parent")
        .prefetch_related(Prefetch("skus", queryset=skus, to_attr="search_skus"))
    )
    if not products:
        return 0
    new_words: set[str] = set()
    for product in products:
        new_words |= catalogue_words(product)
    text.dictionary_add(new_words)
    rows = []
    vocabulary: set[str] = set()
    for product in products:
        literal, trigram_text, words = document_for(product)
        rows.append((product.pk, literal, trigram_text))
        vocabulary |= words
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {SearchDocument._meta.db_table} (product_id, document, text, updated_at) "
            "VALUES (%s, %s::tsvector, %s, now()) ON CONFLICT (product_id) DO UPDATE "
            "SET document = EXCLUDED.document, text = EXCLUDED.text, updated_at = EXCLUDED.updated_at",
            rows,
        )
        search_terms_add(words=vocabulary, catalogue=new_words)
    return len(rows)


def search_terms_add(*, words: Iterable[str], catalogue: Iterable[str] = ()) -> None:
    """Add words to the vocabulary with their spellings (existing words are left as they are,
    except that a word the catalogue teaches is marked so every process loads it into jieba)."""
    catalogue = set(catalogue)
    terms = [SearchTerm(term=w, pinyin=text.pinyin(w)[:256], initials=text.initials(w)[:64], product_count=1,
                        is_catalogue_word=w in catalogue)
             for w in sorted(set(words) | catalogue) if text.is_lexeme(w) and len(w) <= 64]
    SearchTerm.objects.bulk_create(terms, ignore_conflicts=True)
    if catalogue:
        SearchTerm.objects.filter(term__in=catalogue, is_catalogue_word=False).update(is_catalogue_word=True)


def catalogue_dictionary() -> list[str]:
    """The words jieba must know to cut queries as the documents were cut (see text.dictionary_add)."""
    return list(SearchTerm.objects.filter(is_catalogue_word=True).values_list("term", flat=True))


def operator_words() -> set[str]:
    """Words operators typed (synonyms, hot words): segmented whole like the catalogue's words."""
    found: set[str] = set()
    for words in SearchSynonym.objects.filter(is_active=True).values_list("words", flat=True):
        found.update(text.normalise(w) for w in words)
    found.update(text.normalise(w) for w in SearchHotWord.objects.filter(is_active=True).values_list("word", flat=True))
    return {w for w in found if text.is_chinese(w) and text.is_lexeme(w)}


def search_index_rebuild() -> dict[str, int]:
    """Rebuild every product's document, then recount the vocabulary from the documents and drop
    the words no product has any more. The nightly job and `manage.py search_reindex`; idempotent."""
    text.dictionary_add(operator_words())
    ids = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    written = search_document_refresh(product_ids=ids)
    search_terms_add(words=operator_words(), catalogue=operator_words())
    table, documents = SearchTerm._meta.db_table, SearchDocument._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"WITH s AS MATERIALIZED (SELECT word, ndoc FROM ts_stat('SELECT document FROM {documents}')), "
            f"counted AS (UPDATE {table} t SET product_count = s.ndoc FROM s "
            f"WHERE s.word = t.term AND t.product_count <> s.ndoc) "
            f"DELETE FROM {table} t WHERE NOT t.is_catalogue_word "
            "AND NOT EXISTS (SELECT 1 FROM s WHERE s.word = t.term)"
        )
        dropped = cursor.rowcount
    return {"documents": written, "terms_dropped": dropped}


def category_product_ids(*, category: Category) -> list[int]:
    """The products a category's rename changes: its own and its children's."""
    return list(Product.objects.filter(category__in=[category.pk, *category.children.values_list("pk", flat=True)])
                .values_list("pk", flat=True))
