"""Folding and tokenising search text the way the FTS5 index does, and turning user input into a safe MATCH.

The index uses `unicode61 remove_diacritics 2`: tokens are runs of letters and digits, lower-cased, with
diacritics removed. The query goes through the same folding here so that what we quote is exactly what the
index holds, and so that no character of user input ever reaches FTS5 as syntax.
"""

from __future__ import annotations

import re
import unicodedata

# unicode61 treats letters, digits and private-use characters as token characters; `_` is punctuation to it,
# so it must split tokens here too.
_TOKEN = re.compile(r"[^\W_]+")

# A query longer than this is almost certainly pasted text, not a search: the extra terms only cost time.
MAX_TERMS = 12


def fold(text: str) -> str:
    """Lower-case and strip diacritics: "Reëel Privé" -> "reeel prive"."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.lower()


def tokenize(text: str) -> list[str]:
    """The folded terms of `text`, in order."""
    return _TOKEN.findall(fold(text))


def match_expression(query: str) -> str | None:
    """An FTS5 MATCH expression requiring every term of `query`, the last one as a prefix (the agent is still
    typing it); None when the query has no term at all.

    Every term is double-quoted: inside quotes FTS5 reads a plain string, so AND/OR/NOT/NEAR, `*`, `^`, `:`,
    parentheses and column filters in user input are just text. Terms hold only letters and digits, so a quote
    can never occur inside one.
    """
    terms = tokenize(query)[:MAX_TERMS]
    if not terms:
        return None
    quoted = [f'"{term}"' for term in terms]
    quoted[-1] += "*"
    return " ".join(quoted)


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
# A table's separator row ("|---|:--:|") and its other rows ("| a | b |"): cells are words, pipes are not.
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)+\|?\s*$|^\s*\|\s*:?-+:?\s*\|\s*$")
_TABLE_ROW = re.compile(r"^\s*\|(.*)$")
_HEADING = re.compile(r"^\s{0,3}#{1,2}\s+(.*?)\s*#*\s*$")
_MARKUP = re.compile(r"^\s{0,3}(#{1,6}|>|[-*+]|\d+\.)\s+|[*_`]{1,3}|^\s*[-*_]{3,}\s*$", re.MULTILINE)
_SPACES = re.compile(r"\s+")


def _table_row(line: str) -> str:
    if _TABLE_RULE.match(line):
        return ""
    row = _TABLE_ROW.match(line)
    if row is None:
        return line
    cells = (cell.strip() for cell in row.group(1).rstrip().removesuffix("|").split("|"))
    return " · ".join(cell for cell in cells if cell)


def plain_text(markdown: str) -> str:
    """Markdown reduced to its words on one line, for the index and for snippets: headings, list marks,
    emphasis, link targets and table borders are noise in a result list."""
    text = "\n".join(_table_row(line) for line in markdown.split("\n"))
    text = _LINK.sub(r"\1", text)
    text = _MARKUP.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def body_text(markdown: str, title: str) -> str:
    """The plain text of an item's body for its snippet and index, without an opening heading that only
    repeats the title (a result shows the title already; "# Openingsuren" under "Openingsuren van …")."""
    lines = markdown.lstrip("\n").split("\n", 1)
    heading = _HEADING.match(lines[0])
    if heading and set(tokenize(heading.group(1))) <= set(tokenize(title)):
        markdown = lines[1] if len(lines) > 1 else ""
    return plain_text(markdown)


def shorten(text: str, limit: int = 160) -> str:
    """`text` cut at a word boundary to at most about `limit` characters, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(" ,;:.") + "…"
