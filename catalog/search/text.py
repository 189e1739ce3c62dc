"""Text as search sees it: normalised, cut into words by jieba, spelled in pinyin by pypinyin.

Pure functions over strings, shared by the indexer and the query parser so a product's name and
a shopper's query are cut the same way. jieba's dictionary is its default one plus the words of
our catalogue (brands, categories, spec values, synonyms, the domain words in words.txt); the
indexer hands those to `dictionary_add`, and a word added reaches every later cut in the process.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import jieba
from pypinyin import Style, lazy_pinyin

jieba.setLogLevel(logging.WARNING)

# Longest query kept: a pasted paragraph would cost segmentation and a huge tsquery for nothing.
MAX_QUERY_CHARS = 50

_CJK = re.compile(r"[\u3400-\u9fff]")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
# What a lexeme may hold: CJK, ASCII letters and digits. Anything else (punctuation, ·, ×, %)
# separates words; it would also need quoting in a tsquery.
_LEXEME = re.compile(r"^[\u3400-\u9fffa-z0-9]+$")
_ASCII_WORD = re.compile(r"^[a-z0-9]+$")
_SEPARATORS = re.compile(r"[^\u3400-\u9fffa-z0-9]+")

_WORDS_FILE = Path(__file__).with_name("words.txt")
_lock = threading.Lock()
_added: set[str] = set()
_ready = False


def normalise(text: str) -> str:
    """Full-width to half-width (ＡＢＣ１ → abc1), lower case, runs of space as one, trimmed."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return " ".join(text.split())


def normalise_query(text: str) -> str:
    """A shopper's query as it is searched, logged and counted: normalised and cut to MAX_QUERY_CHARS."""
    return normalise(text)[:MAX_QUERY_CHARS].strip()


def is_chinese(word: str) -> bool:
    return bool(_CJK.search(word))


def is_ascii_word(word: str) -> bool:
    return bool(_ASCII_WORD.match(word))


def _ensure_ready() -> None:
    """Load jieba's dictionary and our domain words once per process (jieba caches its model on disk)."""
    global _ready
    if _ready:
        return
    with _lock:
        if _ready:
            return
        jieba.initialize()
        for line in _WORDS_FILE.read_text(encoding="utf-8").splitlines():
            word = line.split("#", 1)[0].strip()
            if word:
                jieba.add_word(word, freq=50_000)
                _added.add(word)
        _ready = True


def warm_up() -> None:
    """Load the segmenter now (a web process calls this as it starts; see config/wsgi.py)."""
    _ensure_ready()


def dictionary_add(words: Iterable[str]) -> None:
    """Teach jieba words of the catalogue (a brand, a category, a synonym) so they are cut whole.

    A high frequency makes jieba prefer the word over the smaller words of its own dictionary
    (贝乐滋 rather than 贝 / 乐 / 滋). Idempotent; only Chinese words of 2 to 12 characters.
    """
    _ensure_ready()
    new = {normalise(w) for w in words} - _added
    for word in sorted(new):
        if 2 <= len(word) <= 12 and is_chinese(word) and _LEXEME.match(word):
            jieba.add_word(word, freq=50_000)
        _added.add(word)


def words(text: str) -> list[str]:
    """The searchable words of `text`, in order, repeats kept: jieba's search-engine cut (a long
    word and the shorter words inside it: 羊奶粉 → 羊奶, 奶粉, 羊奶粉), separators dropped."""
    _ensure_ready()
    out: list[str] = []
    for chunk in _SEPARATORS.split(normalise(text)):
        if not chunk:
            continue
        for word in jieba.cut_for_search(chunk):
            word = word.strip()
            if word and _LEXEME.match(word):
                out.append(word)
    return out


def bigrams(text: str) -> list[str]:
    """Two-character pieces of each run of Chinese: the fallback that finds a partial word
    jieba did not cut out (尿酸 inside 玻尿酸)."""
    out: list[str] = []
    for run in _CJK_RUN.findall(normalise(text)):
        out.extend(run[i:i + 2] for i in range(len(run) - 1))
    return out


def pinyin(word: str) -> str:
    """Full pinyin without tones or separators (奶粉 → naifen); ASCII passes through."""
    return "".join(lazy_pinyin(word, errors=lambda chars: chars))


def initials(word: str) -> str:
    """The first letter of each syllable (奶粉 → nf); ASCII passes through."""
    return "".join(lazy_pinyin(word, style=Style.FIRST_LETTER, errors=lambda chars: chars))


def spellings(word: str) -> list[str]:
    """The pinyin and initials a Chinese word is also found under (empty for an ASCII word)."""
    if not is_chinese(word):
        return []
    full, short = pinyin(word), initials(word)
    return [s for s in dict.fromkeys((full, short)) if _LEXEME.match(s)]


def run_spellings(text: str, *, max_chars: int = 12) -> list[str]:
    """Pinyin and initials of each run of Chinese from every word boundary on (钛合金焖烧壶 →
    taihejinmenshaohu, menshaohu, shaohu…): a shopper typing the pinyin of a name finds it even
    where jieba cut the name into single characters. Suffixes longer than `max_chars` are left out."""
    _ensure_ready()
    out: list[str] = []
    for run in _CJK_RUN.findall(normalise(text)):
        starts, position = [], 0
        for word in jieba.cut(run):
            starts.append(position)
            position += len(word)
        for start in starts:
            suffix = run[start:]
            if 2 <= len(suffix) <= max_chars:
                out.extend((pinyin(suffix), initials(suffix)))
    return [s for s in dict.fromkeys(out) if _LEXEME.match(s)]


def is_lexeme(text: str) -> bool:
    return bool(_LEXEME.match(text))
