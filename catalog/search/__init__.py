"""Product search that understands Chinese: jieba words, pinyin and initials, typo tolerance
(pg_trgm), operator synonyms, ranked with sales and stock (see query.py); the index kept in step
with the catalogue (index.py); what was searched (history.py)."""
