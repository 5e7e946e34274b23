"""What a person typed into the search box, read as a query.

- ``moun lake``: every word, each a word prefix (``moun`` finds "mountains").
- ``"snowy moun"``: a phrase, its words next to each other in this order.
- ``-fox``, ``-"red fox"``, ``-tag:draft``: without these.
- ``fox OR wolf``: either (``OR`` in capitals, between two words or phrases); ``red fox OR
  wolf`` is "red" and ("fox" or "wolf").
- ``tag:sea`` (``tag:"deep sea"``): tagged so (the whole tag name, any case);
  ``model:dreamshaper``: the model's name holds these words; ``after:2024-05-01`` (made on or
  after that day) and ``before:2024-06-01`` (made before it), in the site's time zone.

Reading never fails: a part that cannot be an operator is read as words (``col:val`` is the
words "col" and "val" side by side; an unclosed quote's words are plain words), and a part that
is dropped (``before:notadate``, an ``OR`` with nothing on one side) is named in
:attr:`SearchQuery.problems` for the page to show. No database here: :mod:`gallery.search`
turns a :class:`SearchQuery` into SQL, passing every word as data.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

# Past these, a query is cut: a 10,000-character paste is searched by its first words.
MAX_TERMS = 32
MAX_TERM_CHARS = 200
MAX_TAG_CHARS = 100

_FIELD = re.compile(r"(tag|model|before|after):", re.IGNORECASE)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _is_word_char(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LN" or category == "Co"


def search_terms(query: str) -> list[str]:
    """The words of ``query``, in order, without repeats: at most :data:`MAX_TERMS` of them."""
    return _words(query, unique=True)[:MAX_TERMS]


def _words(text: str, *, unique: bool = False) -> list[str]:
    """The words of ``text`` in order: runs of letters, digits and private-use characters."""
    words: list[str] = []
    word: list[str] = []
    for char in unicodedata.normalize("NFC", text) + " ":
        if _is_word_char(char):
            word.append(char)
            continue
        if word:
            term = "".join(word)[:MAX_TERM_CHARS]
            word = []
            if not unique or term not in words:
                words.append(term)
                if len(words) > MAX_TERMS:
                    break
    return words


@dataclass(frozen=True)
class Match:
    """One word, or a phrase: words side by side in this order, each a word prefix."""

    words: tuple[str, ...]

    def __str__(self) -> str:
        text = " ".join(self.words)
        return f'"{text}"' if len(self.words) > 1 else text


@dataclass
class SearchQuery:
    """A query as read: ``groups`` must all match (a group matches if any of its
    :class:`Match` does), ``excluded`` must not; the filters narrow further."""

    groups: list[tuple[Match, ...]] = field(default_factory=list)
    excluded: list[Match] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    excluded_tags: list[str] = field(default_factory=list)
    models: list[Match] = field(default_factory=list)
    after: date | None = None  # made on or after this (local) day
    before: date | None = None  # made before this (local) day
    problems: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """Nothing to search by: every image matches (problems aside)."""
        return not (
            self.groups
            or self.excluded
            or self.tags
            or self.excluded_tags
            or self.models
            or self.after
            or self.before
        )

    @property
    def has_text(self) -> bool:
        """Something the full-text index answers (words, phrases or a model)."""
        return bool(self.groups or self.excluded or self.models)

    @property
    def finds_nothing(self) -> bool:
        """A contradiction no image can meet (``after:`` later than ``before:``)."""
        return bool(self.after and self.before and self.after >= self.before)


@dataclass
class _Token:
    kind: str  # "match" | "or" | "tag" | "model" | "before" | "after"
    value: object = None
    negated: bool = False
    text: str = ""  # as typed, to name it in a problem


def _quoted(text: str, start: int) -> tuple[str, int] | None:
    """The text between the quote at ``start`` and the next one, and where it ends; ``None``
    when the quote is never closed."""
    end = text.find('"', start + 1)
    if end == -1:
        return None
    return text[start + 1 : end], end + 1


def _bare(text: str, start: int) -> tuple[str, int]:
    end = start
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end], end


def _tokens(text: str, problems: list[str]) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        start = i
        negated = text[i] == "-" and i + 1 < len(text) and not text[i + 1].isspace()
        if negated:
            i += 1
        field_match = _FIELD.match(text, i)
        if field_match and field_match.end() < len(text) and not text[field_match.end()].isspace():
            name = field_match.group(1).lower()
            value_at = field_match.end()
            quoted = _quoted(text, value_at) if text[value_at] == '"' else None
            if quoted is not None:
                value, i = quoted
            else:
                value, i = _bare(text, value_at)
                if value.startswith('"'):
                    value = value[1:]
            tokens.append(_Token(name, value.strip(), negated, text[start:i]))
            continue
        if text[i] == '"':
            quoted = _quoted(text, i)
            if quoted is not None:
                value, i = quoted
                tokens.append(_Token("match", value, negated, text[start:i]))
                continue
            problems.append(
                "A quote (\N{QUOTATION MARK}) is not closed: the words after it were searched "
                "one by one."
            )
            i += 1
            continue
        value, i = _bare(text, i)
        if value == "OR" and not negated:
            tokens.append(_Token("or", text=value))
        else:
            tokens.append(_Token("match", value, negated, text[start:i]))
    return tokens


def _named(token: _Token) -> str:
    return f"\N{LEFT DOUBLE QUOTATION MARK}{token.text}\N{RIGHT DOUBLE QUOTATION MARK}"


def _parse_date(token: _Token, problems: list[str]) -> date | None:
    value = str(token.value)
    if token.negated:
        problems.append(f"{_named(token)} was ignored: use before: or after: for dates.")
        return None
    if _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    problems.append(f"{_named(token)} was ignored: {token.kind}: takes a date written YYYY-MM-DD.")
    return None


class _Reader:
    """Words are counted as they are read: past :data:`MAX_TERMS`, the rest is dropped."""

    def __init__(self) -> None:
        self.budget = MAX_TERMS
        self.cut = False

    def words(self, value: object) -> tuple[str, ...]:
        found = _words(str(value))
        kept = found[: self.budget]
        self.cut = self.cut or len(kept) < len(found)
        self.budget -= len(kept)
        return tuple(kept)


def parse_query(text: str) -> SearchQuery:
    """Read ``text`` (see the module's docstring); never raises."""
    query = SearchQuery()
    reader = _Reader()
    # An OR joins the next word or phrase to the group of the one before it; only between two.
    joining = False
    last_was_word = False
    dropped_or = False
    for token in _tokens(text.replace("\x00", " "), query.problems):
        if token.kind == "or":
            if last_was_word and not joining:
                joining = True
            else:
                dropped_or = True
            last_was_word = False
            continue
        if token.kind == "match" and not token.negated:
            words = reader.words(token.value)
            if not words:
                continue  # punctuation only ("*", "()"): nothing to search by
            match = Match(words)
            if joining:
                if match not in query.groups[-1]:
                    query.groups[-1] = (*query.groups[-1], match)
            elif (match,) not in query.groups:
                query.groups.append((match,))
            joining, last_was_word = False, True
            continue
        if joining:
            dropped_or, joining = True, False
        last_was_word = False
        if token.kind == "match":
            words = reader.words(token.value)
            if words and Match(words) not in query.excluded:
                query.excluded.append(Match(words))
        elif token.kind == "tag":
            name = " ".join(str(token.value).lstrip("#").split())[:MAX_TAG_CHARS]
            if not name:
                query.problems.append(f"{_named(token)} was ignored: tag: takes a tag's name.")
                continue
            target = query.excluded_tags if token.negated else query.tags
            if name.lower() not in (t.lower() for t in target):
                target.append(name)
        elif token.kind == "model":
            words = reader.words(token.value)
            if not words or token.negated:
                reason = "a model cannot be excluded" if words else "model: takes a model's name"
                query.problems.append(f"{_named(token)} was ignored: {reason}.")
                continue
            if Match(words) not in query.models:
                query.models.append(Match(words))
        else:
            day = _parse_date(token, query.problems)
            if day is None:
                continue
            if token.kind == "before":
                query.before = min(query.before, day) if query.before else day
            else:
                query.after = max(query.after, day) if query.after else day
    if joining or dropped_or:
        query.problems.append("OR was ignored where it did not stand between two words.")
    if reader.cut:
        query.problems.append(f"Only the first {MAX_TERMS} words were searched.")
    return query
