"""Does a model's summary stay within its article? A check of what a reader takes as fact.

A summary is rejected when it names a number or a proper noun that the article does not. It
is a pragmatic test, not understanding: it errs towards rejecting (the lead then stands in,
which is always true to the article) and never calls anything outside this module.

Numbers: every digit run in the summary, read with its separators ("1,200", "1.200", "1 200"
and "1200" are one number; "3,5" and "3.5" are one decimal; a grouped number that could be
either, like "1.200", may match both ways). The article's numbers include small number words
("two", "zwei", "deux", "dos"...), so a summary may write a digit where the article spelled it.

Proper nouns: capitalized words that do not start a sentence (sentences as
`digest.text.split_sentences` cuts them, so "Dr. Smith" is one sentence). A word passes when
the article has it in any case, or a word sharing its stem ("Hamburg" / "Hamburger",
"Brücke" / "Brücken"), or in German ends a compound of it ("Senator" / "Verkehrssenator");
"Ada's" is "Ada". Languages differ:

- German capitalizes every noun, so there a capitalized word only counts as a name when
  nothing marks it as a common noun: not after an article, a determiner, a contraction
  ("am", "zum") or a number, and without a noun ending ("-ung", "-heit", "-keit", "-schaft",
  "-tion"...). "die Brücke" is a noun, "in Hamburg" and "Olaf Scholz" are names.
- Formal pronouns ("I" in English, "Sie"/"Ihr" in German, "Ud." in Spanish) are no names.
- French and Spanish write months, days and nationalities in lower case; English writes them
  capitalized, and then they must be in the article like any name ("Tuesday" is a fact).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from digest.text import split_sentences

__all__ = ["unfaithful"]

_WORD_RE = re.compile(r"[^\W\d_](?:[\w]|['’\-](?=[^\W\d_]))*")
_NUMBER_RE = re.compile(r"\d+(?:[.,\u00a0\u202f\u2009'’]\d+)*")
_GROUPED_RE = re.compile(r"^\d{1,3}(?:([.,\u00a0\u202f\u2009'’])\d{3})+$")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_NUMBER_WORDS: dict[str, int] = {}
for _names in (
    # en, de, fr, es: 0-12, then tens and a few large round numbers
    "zero one two three four five six seven eight nine ten eleven twelve",
    "null eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf",
    "zéro un deux trois quatre cinq six sept huit neuf dix onze douze",
    "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce",
):
    for _value, _name in enumerate(_names.split()):
        _NUMBER_WORDS[_name] = _value
_NUMBER_WORDS.update(
    {
        "a": 1, "an": 1, "ein": 1, "eine": 1, "einen": 1, "einem": 1, "einer": 1, "une": 1,
        "una": 1, "dozen": 12, "dutzend": 12, "douzaine": 12, "docena": 12,
        "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
        "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
        "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
        "thousand": 1000, "zwanzig": 20, "dreißig": 30, "vierzig": 40, "fünfzig": 50,
        "hundert": 100, "tausend": 1000, "vingt": 20, "trente": 30, "quarante": 40,
        "cinquante": 50, "cent": 100, "mille": 1000, "veinte": 20, "treinta": 30,
        "cuarenta": 40, "cincuenta": 50, "cien": 100, "ciento": 100, "mil": 1000,
        "half": 50, "halb": 50, "halbe": 50, "moitié": 50, "mitad": 50,
    }
)  # fmt: skip

# Capitalized, yet never a name.
_NOT_NAMES = {
    "en": _words("I I'm I've I'd I'll"),
    "de": _words("Sie Ihr Ihre Ihren Ihrem Ihrer Ihres Ihnen"),
    "fr": _words("Vous"),
    "es": _words("Ud Uds Vd Vds Usted Ustedes"),
}
# German: words after which a capitalized word is a common noun ("die Brücke", "am Dienstag",
# "3,5 Millionen"), and noun endings that no name has.
_GERMAN_NOUN_MARKERS = _words(
    """
    der die das den dem des ein eine einen einem einer eines kein keine keinen keinem keiner
    keines mein meine meinen meinem meiner sein seine seinen seinem seiner ihr ihre ihren
    ihrem ihrer unser unsere unseren unserem unserer euer eure dies diese dieser diesen diesem
    dieses jede jeder jeden jedem jedes jene jener jenen alle allen aller viele vielen vieler
    einige einigen mehrere mehreren beide beiden manche welche welcher zum zur im am vom beim
    ins ans aufs übers fürs
    """
)
_GERMAN_NOUN_ENDINGS = (
    "ung", "ungen", "heit", "heiten", "keit", "keiten", "schaft", "schaften", "tion",
    "tionen", "tät", "täten", "ismus", "nis", "nisse", "tum", "tümer", "ment", "ments",
    "ling", "linge", "chen", "lein", "ei", "eien", "enz", "anz", "ik", "ur",
)  # fmt: skip


def unfaithful(summary: str, article: str, language: str | None = None) -> list[str]:
    """What `summary` names that `article` does not: numbers, then proper nouns, each once.

    An empty list means the summary passes. `language` is the summary's ISO 639-1 code; when
    it is unknown, a text that capitalizes a third of its words inside sentences is read as
    German (whose nouns would otherwise all count as names), anything else as English.
    """
    lang = (language or _capitalizing(summary)).lower()[:2]
    problems: list[str] = []
    have = _numbers(article, words=True)
    for token in _NUMBER_RE.findall(summary):
        if not _readings(token) & have and token not in problems:
            problems.append(token)
    vocabulary = {w.lower() for w in _article_words(article)}
    for name in _proper_nouns(summary, lang):
        if not _known(name, vocabulary, compounds=lang == "de") and name not in problems:
            problems.append(name)
    return problems


# -- numbers ----------------------------------------------------------------------------------


def _readings(token: str) -> set[str]:
    """The values a written number may mean, as canonical decimal strings."""
    grouped = _GROUPED_RE.match(token)
    if grouped:
        separator = grouped.group(1)
        values = [re.sub(r"\D", "", token)]  # "1,200" / "1.200" / "1 200" -> 1200
        if separator in ".," and token.count(separator) == 1:
            values.append(token.replace(separator, "."))  # ... or 1.2, the other convention
    else:
        values = [re.sub(r"[\u00a0\u202f\u2009'’]", "", token).replace(",", ".")]
    readings: set[str] = set()
    for value in values:
        if value.count(".") > 1:  # "1.2.2026": a date, read as its parts
            readings.update(_canonical(part) for part in value.split("."))
        else:
            readings.add(_canonical(value))
    readings.discard("")
    return readings


def _canonical(value: str) -> str:
    try:
        number = Decimal(value)
    except InvalidOperation:
        return ""
    text = format(number.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _numbers(text: str, *, words: bool) -> set[str]:
    """Every value `text` writes: its numbers, read every plausible way, and their digit runs
    ("7.30" is also 7 and 30: a time); with `words`, small number words too."""
    found: set[str] = set()
    for token in _NUMBER_RE.findall(text):
        found |= _readings(token)
        found.update(_canonical(run) for run in re.findall(r"\d+", token))
    if words:
        for word in _WORD_RE.findall(text):
            value = _NUMBER_WORDS.get(word.lower())
            if value is not None:
                found.add(str(value))
    found.discard("")
    return found


# -- proper nouns ------------------------------------------------------------------------------


def _article_words(text: str) -> list[str]:
    """Every word of the article, hyphenated ones also in their parts, possessives bare."""
    words: list[str] = []
    for word in _WORD_RE.findall(text):
        bare = _bare(word)
        words.append(bare)
        if "-" in bare:
            words.extend(part for part in bare.split("-") if part)
    return words


def _bare(word: str) -> str:
    return re.sub(r"['’]s$", "", word)


def _proper_nouns(summary: str, lang: str) -> list[str]:
    names: list[str] = []
    not_names = _NOT_NAMES.get(lang, frozenset())
    for sentence in split_sentences(summary, lang):
        words = list(_WORD_RE.finditer(sentence))
        for index, match in enumerate(words):
            if index == 0:
                continue  # a sentence's first word is capitalized anyway
            word = _bare(match.group(0))
            before = sentence[words[index - 1].end() : match.start()]
            if re.search(r"[:;]\s*[\"'“‘«]?\s*$", before):
                continue  # "...said: Rain is..." may start a quoted sentence
            for part in word.split("-"):
                if not part or not part[0].isupper() or part in not_names:
                    continue
                if lang == "de" and _german_common_noun(part, words[index - 1].group(0), before):
                    continue
                names.append(part)
    return names


def _capitalizing(text: str) -> str:
    inner = [
        match.group(0)
        for sentence in split_sentences(text)
        for match in list(_WORD_RE.finditer(sentence))[1:]
    ]
    capitalized = sum(1 for word in inner if word[0].isupper())
    return "de" if len(inner) >= 6 and capitalized * 3 >= len(inner) else "en"


def _german_common_noun(word: str, previous: str, between: str) -> bool:
    if word.isupper() and len(word) > 1:
        return False  # an acronym: SPD, EU, BVG
    if any(c.isupper() for c in word[1:]):
        return False  # McKinsey, iPhone-like inner capitals: a name
    if word.lower().endswith(_GERMAN_NOUN_ENDINGS):
        return True
    if re.search(r"\d\s*$", between) or previous.lower() in _GERMAN_NOUN_MARKERS:
        return True
    return bool(re.search(r"\d", previous))


def _known(name: str, vocabulary: set[str], *, compounds: bool = False) -> bool:
    """Is `name` in the article: the same word in any case, or a word sharing its stem? With
    `compounds` (German), also the last part of a compound ("Senator" in "Verkehrssenator")."""
    lowered = name.lower()
    if lowered in vocabulary:
        return True
    if len(lowered) < 4:
        return False
    for word in vocabulary:
        if compounds and word.endswith(lowered):
            return True
        shared = 0
        for a, b in zip(lowered, word, strict=False):
            if a != b:
                break
            shared += 1
        if shared >= 4 and shared >= min(len(lowered), len(word)) - 3:
            return True
    return False
