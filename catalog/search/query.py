"""Reads of product search: parsing a shopper's query, matching and ranking products, highlighting,
and the suggestions shown while typing.

A query is cut by jieba the way the documents were (catalog.search.text) and becomes a tsquery
that every word must match (AND), each word by any of its alternatives (OR):
- the word itself, as a prefix (奶 finds 奶粉; `nf` and `naif` find the pinyin lexemes);
- the words of the operators' synonym groups it belongs to (尿不湿 → 纸尿裤);
- when the vocabulary has no such word: the words spelled the same in pinyin (奶分 → 奶粉, the
  pinyin keyboard's typo) or, failing that, the nearest words by pg_trgm similarity of their
  pinyin (niafen → naifen); a Chinese word still unknown is matched by its two-character pieces.
When no product matches every word, any word will do (fewer, partial matches rather than none).

The tsquery is written by us from checked lexemes and cast, never parsed by the database, so
no input can inject operators into it.
"""

from __future__ import annotations

import html
import math
import re
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum

import jieba
from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramSimilarity
from django.db.models import Case, F, FloatField, Func, Q, QuerySet, Value, When
from django.db.models.functions import Ln

from catalog.models import Product, SearchSynonym, SearchTerm
from catalog.search import text
from catalog.search.index import catalogue_dictionary, operator_words
from catalog.selectors import product_list

# Weights of the tsvector's D, C, B, A (detail, subtitle, category, name) for ts_rank.
RANK_WEIGHTS = [0.05, 0.2, 0.4, 1.0]
# A product out of stock still shows, below those in stock; sales lift a match, never make one.
OUT_OF_STOCK_FACTOR = 0.4
SALES_WEIGHT = 0.08
# Corrections of a word the vocabulary lacks: how many, and how close their pinyin must be.
MAX_CORRECTIONS = 3
MIN_SIMILARITY = 0.4
# Corrections kept: those nearly as close as the closest (mianmou → 面膜, not also 棉眠).
CORRECTION_MARGIN = 0.1
# The trigram fallback over name, subtitle and category when no word matches.
MIN_WORD_SIMILARITY = 0.5
# How long a process keeps the catalogue's words for cutting queries before reloading them.
DICTIONARY_SECONDS = 60
MAX_SUGGESTIONS = 10


class SearchSort(StrEnum):
    RELEVANCE = "relevance"
    SALES = "sales"
    PRICE = "price"
    PRICE_DESC = "-price"
    NEWEST = "newest"


SORT_LABELS = {SearchSort.RELEVANCE: "综合", SearchSort.SALES: "销量", SearchSort.PRICE: "价格从低到高",
               SearchSort.PRICE_DESC: "价格从高到低", SearchSort.NEWEST: "新品"}


@dataclass(frozen=True)
class SearchFilters:
    category_id: int | None = None  # a category and its children
    price_min_fen: int | None = None
    price_max_fen: int | None = None
    in_stock_only: bool = False


@dataclass
class ParsedQuery:
    """A query ready to match: `groups` of alternative lexemes (each "x" or "x:*"), every group to
    be matched; `marks` the Chinese words to highlight; `corrections` word → what it was read as."""

    text: str
    groups: list[list[str]] = field(default_factory=list)
    marks: set[str] = field(default_factory=set)
    corrections: dict[str, list[str]] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not self.groups

    def tsquery(self, *, every_word: bool) -> str:
        joiner = " & " if every_word else " | "
        return joiner.join("(" + " | ".join(group) + ")" for group in self.groups)

    def as_typed(self) -> str:
        """The words as typed, any of them (ranking: a product with the shopper's own word ranks
        above one found through a synonym or a correction)."""
        return " | ".join(group[0] for group in self.groups)


class RawTsQuery(SearchQuery):
    """A tsquery we wrote from checked lexemes (text.is_lexeme), cast rather than parsed."""

    template = "(%(expressions)s)::tsquery"


_dictionary_lock = threading.Lock()
_dictionary_loaded_at = -math.inf


def _ensure_dictionary() -> None:
    """Teach this process's jieba the catalogue's and the operators' words, at most every
    DICTIONARY_SECONDS (a brand added in the console is cut whole in queries a minute later at most;
    the document was cut with it at once)."""
    global _dictionary_loaded_at
    if time.monotonic() - _dictionary_loaded_at < DICTIONARY_SECONDS:
        return
    with _dictionary_lock:
        if time.monotonic() - _dictionary_loaded_at < DICTIONARY_SECONDS:
            return
        text.dictionary_add([*catalogue_dictionary(), *operator_words()])
        _dictionary_loaded_at = time.monotonic()


def dictionary_reload() -> None:
    """Forget when the dictionary was loaded: the next query reloads it (tests, after a rebuild)."""
    global _dictionary_loaded_at
    _dictionary_loaded_at = -math.inf


def _query_words(chunk: str) -> list[str]:
    """A query chunk cut in jieba's precise mode (no overlapping words: each must match)."""
    if text.is_ascii_word(chunk):
        return [chunk]
    return [w for w in (w.strip() for w in jieba.cut(chunk)) if w and text.is_lexeme(w)]


def _synonyms(words: list[str]) -> dict[str, set[str]]:
    """word -> the other words of its synonym groups. A pinyin word belongs to a group when it is
    the full pinyin or the initials of one of its words (niaobushi, nbs → 尿不湿's group). One query
    over the operators' groups (a short table)."""
    found: dict[str, set[str]] = {}
    for group in SearchSynonym.objects.filter(is_active=True).values_list("words", flat=True):
        members = {text.normalise(w) for w in group if text.is_lexeme(text.normalise(w))}
        spelled = {spelling for member in members for spelling in text.spellings(member) if len(spelling) > 1}
        for word in words:
            if word in members:
                found.setdefault(word, set()).update(members - {word})
            elif text.is_ascii_word(word) and word in spelled:
                found.setdefault(word, set()).update(members)
    return found


def _known_parts(word: str) -> list[str]:
    """For a Chinese word the vocabulary lacks (乌龙茶, 核桃仁): its longest start that is a
    vocabulary word, with the rest when that is a word too. One query."""
    starts = [word[:k] for k in range(len(word) - 1, 1, -1)]
    rests = [word[k:] for k in range(2, len(word) - 1)]
    found = set(SearchTerm.objects.filter(term__in=[*starts, *rests]).values_list("term", flat=True))
    start = next((s for s in starts if s in found), None)
    if start is None:
        return []
    rest = word[len(start):]
    return [f"({start}:* & {rest}:*)" if rest in found else f"{start}:*"]


def _known(words: list[str]) -> set[str]:
    """The words the vocabulary has, as a word or as the start of one (for a pinyin or Latin word:
    the start of a word's pinyin or initials, or of a Latin word such as vc, opo)."""
    if not words:
        return set()
    condition = Q()
    for word in words:
        condition |= Q(term__startswith=word)
        if text.is_ascii_word(word):
            condition |= Q(pinyin__startswith=word) | Q(initials__startswith=word)
    rows = SearchTerm.objects.filter(condition).values_list("term", "pinyin", "initials")[:500]
    known: set[str] = set()
    for term, full, short in rows:
        known.update(w for w in words if term.startswith(w) or full.startswith(w) or short.startswith(w))
    return known


def _corrections(word: str) -> list[str]:
    """Vocabulary words `word` was probably mistyped for: the same pinyin first (同音错字), then
    the nearest pinyin by trigram similarity."""
    spelled = text.pinyin(word)
    if len(spelled) < 3:
        return []
    rows = list(
        SearchTerm.objects.filter(pinyin__trigram_similar=spelled)
        .annotate(similarity=TrigramSimilarity("pinyin", spelled))
        .filter(similarity__gte=MIN_SIMILARITY)
        .order_by("-similarity", "-product_count", "term")
        .values_list("term", "similarity")[:MAX_CORRECTIONS * 3]
    )
    same = [term for term, similarity in rows if similarity >= 0.999 and term != word]
    if same:
        return same[:MAX_CORRECTIONS]
    # A Chinese word typed with a wrong character keeps its length; a pinyin typo keeps it near.
    near = [(term, similarity) for term, similarity in rows
            if term != word and (not text.is_chinese(word) or len(term) == len(word))]
    best = near[0][1] if near else 0.0
    return [term for term, similarity in near if similarity >= best - CORRECTION_MARGIN][:MAX_CORRECTIONS]


def query_parse(raw: str) -> ParsedQuery:
    """The query a shopper typed, read as word groups (see the module docstring). A few queries:
    the synonyms, the vocabulary, and one per word the vocabulary lacks."""
    _ensure_dictionary()
    parsed = ParsedQuery(text=text.normalise_query(raw))
    chunks = [c for c in re.split(r"[^\u3400-\u9fffa-z0-9]+", parsed.text) if c]
    words = list(dict.fromkeys(w for chunk in chunks for w in _query_words(chunk)))[:8]
    if not words:
        return parsed
    synonyms = _synonyms(words)
    known = _known(words)
    for word in words:
        group = [f"{word}:*"]
        alternatives = sorted(synonyms.get(word, set()))
        if word not in known and not alternatives:
            alternatives = _corrections(word)
            if alternatives:
                parsed.corrections[word] = alternatives
        group.extend(f"{alt}:*" for alt in alternatives)
        if word not in known and not alternatives and text.is_chinese(word) and len(word) > 2:
            parts = _known_parts(word)
            group.extend(parts or ["(" + " & ".join(dict.fromkeys(text.bigrams(word))) + ")"])
        parsed.groups.append(group)
        if text.is_chinese(word):
            parsed.marks.add(word)
        parsed.marks.update(a for a in alternatives if text.is_chinese(a))
    pinyin_words = [w for w in words if text.is_ascii_word(w) and any(c.isalpha() for c in w)]
    parsed.marks.update(_words_spelled(pinyin_words))
    return parsed


def _words_spelled(prefixes: list[str]) -> set[str]:
    """Chinese words whose pinyin or initials start with one of `prefixes` (what `nf` highlights)."""
    if not prefixes:
        return set()
    condition = Q()
    for prefix in prefixes:
        condition |= Q(pinyin__startswith=prefix) | Q(initials=prefix)
    return set(SearchTerm.objects.filter(condition).order_by("-product_count").values_list("term", flat=True)[:50])


@dataclass
class SearchResult:
    products: QuerySet[Product]
    parsed: ParsedQuery
    every_word: bool  # False: no product had every word; these have some of them


def _filtered(queryset: QuerySet[Product], filters: SearchFilters) -> QuerySet[Product]:
    if filters.category_id is not None:
        queryset = queryset.filter(Q(category_id=filters.category_id) | Q(category__parent_id=filters.category_id))
    if filters.price_min_fen is not None:
        queryset = queryset.filter(min_price_fen__gte=filters.price_min_fen)
    if filters.price_max_fen is not None:
        queryset = queryset.filter(min_price_fen__lte=filters.price_max_fen)
    if filters.in_stock_only:
        queryset = queryset.filter(Q(in_stock=True))  # product_list()'s annotation
    return queryset


def _ordered(queryset: QuerySet[Product], sort: SearchSort) -> QuerySet[Product]:
    if sort is SearchSort.SALES:
        return queryset.order_by("-sales_count", "-id")
    if sort is SearchSort.PRICE:
        return queryset.order_by("min_price_fen", "-id")
    if sort is SearchSort.PRICE_DESC:
        return queryset.order_by("-min_price_fen", "-id")
    if sort is SearchSort.NEWEST:
        return queryset.order_by("-created_at", "-id")
    return queryset.order_by("-score", "-sales_count", "-id")


def _ranked(queryset: QuerySet[Product], relevance: object) -> QuerySet[Product]:
    """score = relevance × (1 + SALES_WEIGHT × ln(1 + sales)) × (OUT_OF_STOCK_FACTOR when sold out)."""
    return queryset.annotate(relevance=relevance).annotate(
        score=F("relevance") * (Value(1.0) + Value(SALES_WEIGHT) * Ln(F("sales_count") + Value(1.0)))
        * Case(When(in_stock=True, then=Value(1.0)), default=Value(OUT_OF_STOCK_FACTOR), output_field=FloatField()),
    )


def product_search(*, query: str, filters: SearchFilters = SearchFilters(),
                   sort: SearchSort = SearchSort.RELEVANCE) -> SearchResult:
    """On-shelf products matching `query` (see the module docstring), filtered and sorted.

    The queryset is lazy: the caller paginates it (a COUNT and a page). When no product has every
    word, it holds those with any word (every_word False); when none has any, those whose name,
    subtitle or category is close to the query by pg_trgm word similarity.
    """
    parsed = query_parse(query)
    base = _filtered(product_list(), filters)
    if parsed.is_empty:
        return SearchResult(products=_ordered(base.annotate(score=Value(0.0)), sort if sort is not SearchSort.RELEVANCE
                                              else SearchSort.SALES), parsed=parsed, every_word=True)
    for every_word in (True, False):
        tsquery = RawTsQuery(parsed.tsquery(every_word=every_word))
        matched = base.filter(search_document__document=tsquery)
        if matched.exists():
            document = F("search_document__document")
            typed = RawTsQuery(parsed.as_typed())
            relevance = (SearchRank(document, tsquery, weights=RANK_WEIGHTS)
                         + SearchRank(document, typed, weights=RANK_WEIGHTS))
            ranked = _ranked(matched, relevance)
            return SearchResult(products=_ordered(ranked, sort), parsed=parsed, every_word=every_word)
        if len(parsed.groups) == 1:
            break
    similar = base.annotate(similarity=_WordSimilarity(Value(parsed.text), F("search_document__text"))).filter(
        similarity__gte=MIN_WORD_SIMILARITY)
    return SearchResult(products=_ordered(_ranked(similar, F("similarity")), sort), parsed=parsed, every_word=False)


class _WordSimilarity(Func):
    """pg_trgm's word_similarity(query, text): how well the query matches some part of the text."""

    function = "WORD_SIMILARITY"
    output_field = FloatField()


def product_search_ids(*, query: str) -> QuerySet[Product, int]:
    """Ids of the products `query` matches (every word), for the product list's `q` filter."""
    parsed = query_parse(query)
    if parsed.is_empty:
        return Product.objects.none().values_list("pk", flat=True)
    matched = Product.objects.filter(search_document__document=RawTsQuery(parsed.tsquery(every_word=True)))
    return matched.values_list("pk", flat=True)


def highlight(value: str, marks: set[str]) -> str:
    """`value` HTML-escaped with each occurrence of a mark wrapped in <em>, longest marks first."""
    if not value or not marks:
        return html.escape(value or "")
    pattern = re.compile("|".join(re.escape(m) for m in sorted(marks, key=len, reverse=True)), re.IGNORECASE)
    out, last = [], 0
    for match in pattern.finditer(value):
        out.append(html.escape(value[last:match.start()]))
        out.append(f"<em>{html.escape(match.group(0))}</em>")
        last = match.end()
    out.append(html.escape(value[last:]))
    return "".join(out)


class SuggestionKind(StrEnum):
    WORD = "word"  # a word of the catalogue's vocabulary
    PRODUCT = "product"  # an on-shelf product's name


@dataclass(frozen=True)
class Suggestion:
    text: str
    kind: SuggestionKind


def search_suggestions(*, prefix: str, limit: int = MAX_SUGGESTIONS) -> list[Suggestion]:
    """What to offer while the shopper types `prefix`: vocabulary words starting with it (or whose
    pinyin or initials do), most used first, then on-shelf product names containing it. Two queries."""
    prefix = text.normalise_query(prefix)
    if not prefix:
        return []
    condition = Q(term__startswith=prefix)
    if text.is_ascii_word(prefix):
        condition |= Q(pinyin__startswith=prefix) | Q(initials__startswith=prefix)
    words = list(SearchTerm.objects.filter(condition, product_count__gt=0).exclude(term=prefix)
                 .order_by("-product_count", "term").values_list("term", flat=True)[:limit])
    out = [Suggestion(text=w, kind=SuggestionKind.WORD) for w in words if len(w) > 1 or text.is_chinese(w)]
    if len(out) < limit:
        names = (Product.objects.filter(is_on_shelf=True, category__is_active=True, name__icontains=prefix)
                 .order_by("-sales_count", "-id").values_list("name", flat=True)[:limit - len(out)])
        out.extend(Suggestion(text=n, kind=SuggestionKind.PRODUCT) for n in names)
    return out[:limit]

