"""Plain-text helpers every stage may use: sentences, word counts, cuts to a word budget.

Summaries are cut here, and only here: the lead summarizer cuts a lead to the digest's budget
and rendering cuts summaries shorter when an issue is over its size budget, both with
`cut_to_words`. Cutting right is the whole job, hence a real sentence segmenter that knows
"U.S.", "Sen.", "z. B." and "3,5 Mrd." do not end sentences, and quotes and brackets a cut
leaves open are closed.

This module imports nothing from Digest, so any stage can use it without depending on another.
"""

from __future__ import annotations

import re

__all__ = [
    "DEFAULT_WORDS",
    "balance_quotes",
    "count_words",
    "cut_to_words",
    "split_sentences",
    "trim_to_words",
]

DEFAULT_WORDS = 60
"""A summary's word budget when nothing else says (a digest's `summary_words` does)."""


def _words(text: str) -> frozenset[str]:
    """A set of words written as one whitespace-separated string (easier to read and edit)."""
    return frozenset(text.split())


# --------------------------------------------------------------------------------------------
# Sentence segmentation

# Abbreviations that are followed by a period but end no sentence, by language (lower-case,
# without the final period). Shared ones first; titles before names are the usual trap.
_COMMON_ABBREVIATIONS = _words(
    """
        mr mrs ms dr prof sr jr st mt ft sen rep gov gen col lt sgt capt cmdr adm maj pres
        supt dept corp inc ltd co bros no nos vol vols pp fig figs approx est ca cf vs al ed
        eds rev jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur
        thurs fri sat sun ave blvd rd hwy ste apt bldg univ assn intl natl mfg
        """
)
_ABBREVIATIONS: dict[str, frozenset[str]] = {
    "en": frozenset(["etc", "e.g", "i.e", "a.m", "p.m", "u.s", "u.k", "u.n", "e.u"]),
    "de": _words(
        """
            bzw ca usw vgl ggf evtl inkl exkl zzgl mrd mio tsd nr str abs art bd bzw jh jhd
            hrsg geb gest gegr sog z.b u.a d.h z.t o.ä u.ä s.o s.u bspw insb ebd ehem allg
            betr mind max min dipl ing dt engl frz lat hr fr prof dr
            """
    ),
    "fr": _words(
        """
            m mm mme mmes mlle mlles env cf ex p.ex janv févr fév avr juil sept oct nov déc
            éd vol chap boul av apr j.-c etc
            """
    ),
    "es": _words(
        """
            sr sra srta sres dr dra ud uds vd vds etc pág págs núm aprox avda av lic ing arq
            gral dña dn d ee.uu p.ej tel ene feb mar abr may jun jul ago sept oct nov dic
            """
    ),
}
# After these words a new sentence begins even if the previous token looked like an acronym
# ("... in the U.S. The company ..."); after anything else capitalized it does not ("U.S. Senate").
_SENTENCE_STARTERS = _words(
    """
        the a an in on at it he she they we i you but and or so yet this that these those
        there his her their its our my after before when while if as for with from by to of
        last next however meanwhile still now then also both some many most all no one two
        three der die das ein eine er sie es wir ich und aber auch doch im am zum nach bei
        mit le la les un une il elle ils elles nous je et mais en au aux du des ce cette el
        los las uno una él ella ellos nosotros yo y pero en al del este esta
        """
)

_MAY_END_SENTENCE = _words(
    """
    etc usw a.m p.m inc corp co ltd jr sr e.u u.s u.k u.n ee.uu
    """
)
"""Abbreviations that also end sentences: "... at 10 a.m. The council ..." splits, while
"10 a.m. Eastern" or "Inc. said" do not (no sentence starter follows)."""

_CANDIDATE_RE = re.compile(r"""([.!?…]+|[。！？]+)((?:\s?["'”’»)\]])*)(\s+|$)|([。！？]+)(?=\S)""")
"""Sentence-final punctuation, closing quotes (French ones after a space), then a space; or a
CJK full stop, which needs no space after it."""
_TOKEN_BEFORE_RE = re.compile(r"(\S+)$")
_INITIAL_RE = re.compile(r"^[(\[\"'“‘«]*[^\W\d_]$")
_ACRONYM_RE = re.compile(r"^[(\[\"'“‘«]*([^\W\d_]{1,3}[.\-]){1,4}[^\W\d_]{1,3}$")
_ORDINAL_RE = re.compile(r"^\d{1,2}$")


def _is_boundary(text: str, end: int, after: int, language: str | None, punct: str) -> bool:
    """Does the sentence end at `end` (the position after the punctuation)? `after` is where
    the next sentence would start."""
    if after >= len(text):
        return True
    next_char = text[after]
    if next_char.islower():
        return False  # "etc. and", "z. B. die", "3 p.m. yesterday"
    if punct not in ".":
        return True  # ! ? … end a sentence when something capitalized follows
    before = text[:end].rstrip(".\"'”’»)]")
    match = _TOKEN_BEFORE_RE.search(before)
    token = match.group(1) if match else ""
    word = token.lower().lstrip("([\"'“‘«")
    next_word = re.match(r"[\w'’]+", text[after:].lstrip("\"'“‘«([¿¡"))
    starter = next_word is not None and next_word.group(0).lower() in _SENTENCE_STARTERS
    if word in _COMMON_ABBREVIATIONS or word in _ABBREVIATIONS.get(language or "en", ()):
        return starter and word in _MAY_END_SENTENCE
    if any(word in table for table in _ABBREVIATIONS.values()) and language is None:
        return starter
    if _INITIAL_RE.match(token):
        return False  # "John F. Kennedy", "u. a.", "z. B."
    if _ACRONYM_RE.match(token):
        return starter  # "U.S. Senate" no, "the U.S. The" yes; "D-N.M." likewise
    if _ORDINAL_RE.match(word) and language == "de":
        return starter  # "am 3. Oktober"
    return True


def split_sentences(text: str, language: str | None = None) -> list[str]:
    """Split `text` into sentences, keeping abbreviations, initials and decimals intact.

    `language` is an ISO 639-1 code ("en", "de", "fr", "es"...); it picks the abbreviation
    list and a few local habits (German ordinals such as "3. Oktober").
    """
    text = " ".join(text.split())
    if not text:
        return []
    language = (language or "").lower()[:2] or None
    sentences: list[str] = []
    start = 0
    for match in _CANDIDATE_RE.finditer(text):
        if match.group(4):  # CJK full stop with no space after it
            end = after = match.end()
            punct = "。"
        else:
            punct = match.group(1)[-1]
            end = match.end(2)
            after = match.end(3)
        if end <= start:
            continue
        if _is_boundary(text, end, after, language, punct):
            sentence = text[start:end].strip()
            if sentence:
                sentences.append(sentence)
            start = after
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


# --------------------------------------------------------------------------------------------
# Cutting to a budget

_OPENERS = {
    "“": "”",
    "‘": "’",
    "«": "»",
    "„": "“",
    "‚": "‘",
    "(": ")",
    "[": "]",
    "¿": "?",
    "¡": "!",
}
_CLOSERS = {close: open_ for open_, close in _OPENERS.items() if open_ not in "„‚¿¡"}
_TRAILING_JUNK = re.compile(r"[\s,;:–—\-/(\[“‘«„‚\"']+$")


def count_words(text: str) -> int:
    """Words as every budget counts them: runs of non-space characters."""
    return len(text.split())


def balance_quotes(text: str) -> str:
    """Close quotes and brackets the cut left open, drop closers that have no opener."""
    stack: list[str] = []
    out: list[str] = []
    straight = 0
    for ch in text:
        if ch == '"':
            straight += 1
        elif ch in _OPENERS and not (ch == "“" and stack and stack[-1] == "„"):
            if ch in "¿¡":
                out.append(ch)
                continue
            stack.append(ch)
        elif ch in _CLOSERS or (ch == "“" and stack and stack[-1] == "„"):
            opener = "„" if ch == "“" else _CLOSERS[ch]
            if ch == "’" and (not stack or stack[-1] != "‘"):
                out.append(ch)  # an apostrophe: "don’t"
                continue
            if opener in stack:
                while stack and stack[-1] != opener:
                    stack.pop()
                stack.pop()
            else:
                continue  # a closer with nothing open: dangling, drop it
        out.append(ch)
    result = "".join(out)
    if straight % 2:
        index = result.rfind('"')
        # an odd quote at the very start or end of a cut sentence: drop it; else close it
        result = (
            result[:index] + result[index + 1 :] if index in (0, len(result) - 1) else result + '"'
        )
    for opener in reversed(stack):
        result = result.rstrip() + _OPENERS[opener]
    return result


def trim_to_words(text: str, words: int) -> str:
    """Cut `text` to at most `words` words at a word boundary, ending with "…"."""
    tokens = text.split()
    if len(tokens) <= words:
        return text
    cut = " ".join(tokens[: max(1, words)])
    cut = _TRAILING_JUNK.sub("", cut)
    cut = re.sub(r"[.!?…]+$", "", cut)
    return balance_quotes(cut + "…")


def cut_to_words(text: str, words: int, language: str | None = None) -> str:
    """`text` cut to at most `words` words, at a sentence boundary when one fits.

    Whole sentences while they fit; when even the first sentence is over budget, it is cut at
    a word boundary and ends with "…". Whitespace is normalized and quotes/brackets balanced.
    `language` (ISO 639-1) picks the abbreviations that do not end a sentence.
    """
    text = " ".join(text.split())
    if not text or words <= 0:
        return ""
    if count_words(text) <= words:
        return balance_quotes(text)
    kept: list[str] = []
    total = 0
    for sentence in split_sentences(text, language):
        size = count_words(sentence)
        if total + size > words:
            break
        kept.append(sentence)
        total += size
    if not kept:
        return trim_to_words(text, words)
    return balance_quotes(" ".join(kept))
