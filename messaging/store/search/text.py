"""Search text: a message as the index sees it, and where each of its characters came from.

Every message is indexed as one string, its *search text*: the words of the
message, folded (case, accents, compatibility forms), separated by single
spaces, with a space at each end::

    "Déployé à 10:30, ok? 東京に 👍🏽"  ->  " deploye a 10 30 ok 東 京 に 👍 "

A word is a run of letters, digits and combining marks. Scripts written
without spaces between words (Chinese, Japanese, Korean, Thai, Lao, Khmer,
Myanmar) and pictographs (emoji, other symbols) make one word per character,
so that any run of them can be found whatever it sits in. Punctuation,
spaces, emoji modifiers and joiners separate words and are not indexed.

Every query term becomes a *needle* (:mod:`.query`) and a message matches
when its search text contains every needle: the whole query language comes
down to substring tests on this one string. That is what both databases
accelerate (SQLite's FTS5 trigram index, PostgreSQL's GIN index), what the
tests' plain-Python oracle checks, and why both stacks find exactly the same
messages.

Folding works one character at a time (so that :attr:`Folded.origin` can map
every character of the search text back to the character of the message it
came from, for highlighting): compatibility decomposition (``ﬁ`` → ``fi``,
full-width ``Ａ`` → ``a``, ``①`` → ``1``; the result stays decomposed, so
half-width ``ｶﾞ`` and ``ガ`` are the same word), the combining diacritics of the
Latin, Greek and Cyrillic alphabets dropped (``é`` → ``e``, ``ё`` → ``е``,
``й`` → ``и``), then Unicode case folding (``ß`` → ``ss``). Hangul syllables
are kept whole (decomposing them into jamo would let a syllable match inside
another), and marks outside that block (Japanese voicing marks, Indic vowel
signs) are kept with their letter.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

#: combining diacritical marks dropped when folding (U+0300 to U+036F)
_DIACRITICS = range(0x0300, 0x0370)
#: variation selectors: the same emoji with or without one is the same word
_VARIATION_SELECTORS = (range(0xFE00, 0xFE10), range(0xE0100, 0xE01F0))
#: scripts written without spaces between words: each character is a word of its own
_SEGMENTED = (
    range(0x0E00, 0x0F00),  # Thai, Lao
    range(0x1000, 0x10A0),  # Myanmar
    range(0x1780, 0x1800),  # Khmer
    range(0x1100, 0x1200),  # Hangul Jamo
    range(0x2E80, 0x2FE0),  # CJK radicals, Kangxi radicals
    range(0x3005, 0x3008),  # 々 〆 〇
    range(0x3021, 0x302A),  # Hangzhou numerals
    range(0x3040, 0x3100),  # Hiragana, Katakana
    range(0x3130, 0x3190),  # Hangul compatibility Jamo
    range(0x31F0, 0x3200),  # Katakana phonetic extensions
    range(0x3400, 0x4DC0),  # CJK extension A
    range(0x4E00, 0xA000),  # CJK unified ideographs
    range(0xA960, 0xA980),  # Hangul Jamo extended A
    range(0xAC00, 0xD7B0),  # Hangul syllables
    range(0xD7B0, 0xD800),  # Hangul Jamo extended B
    range(0xF900, 0xFB00),  # CJK compatibility ideographs
    range(0xFF66, 0xFFA0),  # half-width Katakana
    range(0x1B000, 0x1B170),  # Kana supplement and extended
    range(0x20000, 0x323B0),  # CJK extensions B to H
)
_HANGUL_SYLLABLES = range(0xAC00, 0xD7A4)

# What a folded character is to the tokenizer.
WORD, SEGMENTED, MARK, SEPARATOR = "word", "segmented", "mark", "separator"


def _in(code: int, ranges: tuple[range, ...]) -> bool:
    return any(code in r for r in ranges)


@functools.lru_cache(maxsize=65536)
def fold_char(char: str) -> str:
    """One character as the search text has it: decomposed, without Latin/Greek/Cyrillic accents, case-folded."""
    code = ord(char)
    if code < 0x80:
        return char.lower()
    if code in _HANGUL_SYLLABLES or _in(code, _VARIATION_SELECTORS):
        return "" if code not in _HANGUL_SYLLABLES else char
    folded = _strip(unicodedata.normalize("NFKD", char)).casefold()
    # Case folding can itself compose (or decompose) a character: once more.
    return _strip(unicodedata.normalize("NFKD", folded))


def _strip(text: str) -> str:
    return "".join(c for c in text if ord(c) not in _DIACRITICS and not _in(ord(c), _VARIATION_SELECTORS))


@functools.lru_cache(maxsize=65536)
def kind_of(char: str) -> str:
    """Whether a folded character continues a word, is a word of its own, attaches to the previous one, or separates."""
    code = ord(char)
    if code < 0x80:
        return WORD if char.isalnum() else SEPARATOR
    category = unicodedata.category(char)
    if category[0] == "M":
        return MARK
    if _in(code, _SEGMENTED):
        return SEGMENTED if category[0] in "LN" else MARK if category[0] == "M" else SEPARATOR
    if category[0] in "LN":
        return WORD
    if category == "So":  # emoji and other pictographs
        return SEGMENTED
    return SEPARATOR


@dataclass(frozen=True)
class Folded:
    """A text's search text and, for each of its characters, the index of the character it came from (-1: a space)."""

    text: str
    origin: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The characters of the original text that ``text[start:end]`` came from, as ``[first, last + 1)``."""
        inside = [o for o in self.origin[start:end] if o >= 0]
        if not inside:
            return (0, 0)
        return (min(inside), max(inside) + 1)


_ASCII_WORD = re.compile(r"[a-z0-9]+")
#: a character → its folded characters with their kinds (filled as characters are met)
_TABLE: dict[str, tuple[tuple[str, str], ...]] = {}


def _folded(char: str) -> tuple[tuple[str, str], ...]:
    entry = _TABLE.get(char)
    if entry is None:
        entry = tuple((c, kind_of(c)) for c in fold_char(char))
        if len(_TABLE) < 200_000:
            _TABLE[char] = entry
    return entry


def fold(text: str) -> Folded:
    """The search text of ``text`` (see the module's docstring) with its origin map."""
    if text.isascii():
        lowered = text.lower()
        out: list[str] = [" "]
        origin: list[int] = [-1]
        for match in _ASCII_WORD.finditer(lowered):
            out.append(match.group())
            origin.extend(range(match.start(), match.end()))
            out.append(" ")
            origin.append(-1)
        return Folded("".join(out), tuple(origin))
    chars: list[str] = [" "]
    where: list[int] = [-1]
    _fold_into(text, chars, where)
    return Folded("".join(chars), tuple(where))


def search_text(text: str) -> str:
    """Only the search text (what the index stores): :func:`fold` without the origin map."""
    if text.isascii():
        found = _ASCII_WORD.findall(text.lower())
        return " " + " ".join(found) + " " if found else " "
    chars: list[str] = [" "]
    _fold_into(text, chars, None)
    return "".join(chars)


def _fold_into(text: str, out: list[str], origin: list[int] | None) -> None:
    # The kind of the last character written: a mark continues it; after a
    # segmented character, a word character starts a new word.
    last = SEPARATOR
    for index, char in enumerate(text):
        for folded, kind in _folded(char):
            if kind == SEPARATOR:
                last = SEPARATOR
                continue
            if kind == MARK:
                if last == SEPARATOR:
                    continue  # a mark with nothing to attach to
            elif last != SEPARATOR and (kind == SEGMENTED or last == SEGMENTED) or last == SEPARATOR and out[-1] != " ":
                out.append(" ")
                if origin is not None:
                    origin.append(-1)
            out.append(folded)
            if origin is not None:
                origin.append(index)
            if kind != MARK:
                last = kind
    if out[-1] != " ":
        out.append(" ")
        if origin is not None:
            origin.append(-1)


def words(text: str) -> list[str]:
    """The folded words of ``text``, in order."""
    return fold(text).text.split()


def is_segmented(word: str) -> bool:
    """Whether a folded word is one character of a script without spaces, or a pictograph (with its marks)."""
    return bool(word) and kind_of(word[0]) == SEGMENTED
