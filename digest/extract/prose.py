"""What a lead is, as text: words, whitespace, and the rules that tell prose from chrome.

Shared by HTML, text and feed extraction, so a lead means the same thing everywhere."""

from __future__ import annotations

import logging
import re
from collections import Counter

LOGGER = logging.getLogger(__name__)


def _words(text: str) -> frozenset[str]:
    """A set of words written as one whitespace-separated string (easier to read and edit)."""
    return frozenset(text.split())


MAX_DOCUMENT_BYTES = 10_000_000
"""Largest document (after decompression) we try to extract; bigger ones are refused."""

_MAX_HTML_CHARS = 1_000_000
"""Markup (after scripts and styles are dropped) or plain text beyond this is cut before
parsing: extraction time grows with the page (about 2 s per MB here), an article's start is
never megabytes down, and one page must never hold up a run."""

_MAX_TRAFILATURA_ELEMENTS = 6000
"""Above this many elements trafilatura is skipped (the corpus' largest page has 1,600)."""

_MIN_BLOCK_CHARS = 20
"""Blocks shorter than this are labels, not paragraphs (ten words take more)."""

_LEAD_MIN_WORDS = 15
"""A lead has at least this many words (the benchmark's definition of a lead, too)."""

_MAX_BLOCKS = 1600
"""Candidate blocks examined on one page; bounds the time spent on pages made of thousands."""


# --------------------------------------------------------------------------------------------
# Text helpers

_WS_RE = re.compile(r"\s+")
_INVISIBLE_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]+")
_WORD_RE = re.compile(r"\w+")
_TOKEN_RE = re.compile(r"[^\s\w]*\w\S*")  # a whitespace-separated token holding a word character
_NON_LETTER_RE = re.compile(r"[\W\d_]+")
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
PARA_BREAK = "\u2029"  # stands in for <br> while we collect text, so source newlines differ
BREAK_RE = re.compile(f'{PARA_BREAK}\\s*{PARA_BREAK}|(?<=[.!?…。！？"”»)])\\s*{PARA_BREAK}')


def norm_ws(text: str) -> str:
    if _INVISIBLE_RE.search(text):
        text = _INVISIBLE_RE.sub("", text)
    return _WS_RE.sub(" ", text).strip()


def count_words(text: str) -> int:
    """Words in `text` (tokens with a letter or digit; "…" or "|" are no words); CJK scripts,
    written without spaces, count about 2 characters a word."""
    spaced = len(_TOKEN_RE.findall(text))
    if not _CJK_RE.search(text):
        return spaced
    cjk = len(_CJK_RE.findall(text))
    return spaced + cjk // 2 if cjk > len(text) // 4 else spaced


def word_tokens(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def overlap(a: str, b: str) -> float:
    """Bag-of-words F1 between two strings: 1.0 when they say the same words."""
    ta, tb = Counter(word_tokens(a)), Counter(word_tokens(b))
    common = sum((ta & tb).values())
    if not common:
        return 0.0
    precision, recall = common / sum(tb.values()), common / sum(ta.values())
    return 2 * precision * recall / (precision + recall)


# --------------------------------------------------------------------------------------------
# What a lead is, as text

_TERMINAL_RE = re.compile(r"[.!?…。！？:~][\"'”’»)\]]*(\[\d+\])?$")
"""A finished sentence at the end of a block (checked on its last characters only)."""
_TRAILING_SYMBOLS_RE = re.compile(r"[\s\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F\u200d]+$")
"""Emoji and the like after the last sentence: they do not unfinish it."""
_BYLINE_RE = re.compile(r"^(by|von|par|por|di|door|av|af|от|por:|by:)\s+\S+", re.IGNORECASE)
_DATELINE_ONLY_RE = re.compile(
    r"^(published|updated|posted|last updated|veröffentlicht|aktualisiert|publié|mis à jour|"
    r"publicado|actualizado)\b",
    re.IGNORECASE,
)
CHROME_RE = re.compile(
    r"\b(?:cookies? (?:policy|settings|preferences|consent)"
    r"|(?:use|uses|accept|allow) (?:all )?cookies"
    r"|sign up (?:for|to|now|here|today)|subscribe (?:now|today|here|to (?:our|the)|for)"
    r"|(?:our|free) (?:daily |weekly |morning |evening )?(?:e-?mail )?newsletters?"
    r"|(?:log|sign) in to (?:continue|read|comment)|please (?:log|sign) in|already a subscriber"
    r"|sponsored (?:content|post)|paid (?:content|post)|this (?:post|article|story) is sponsored"
    r"|(?:enable|turn on) javascript|javascript (?:is )?(?:disabled|required)"
    r"|(?:update|upgrade) your browser|your browser (?:is|does)|ad ?blockers?"
    r"|appeared first on|continue reading|read more|click here|\d+ min(?:ute)?s? read"
    r"|all rights reserved|copyright \d{4}|free articles? (?:left|remaining)|subscribers? only"
    r"|for your personal,? non-commercial use|skip to (?:main )?content"
    r"|(?:top|bottom) of (?:the )?page|share this (?:article|story|post|page)"
    r"|share on (?:facebook|twitter|x|linkedin|whatsapp)|follow us|jetzt abonnieren"
    r"|abonnez-vous|suscríbete|image (?:credit|source)|getty images|ap photo"
    r"|affiliate (?:links?|partnerships?|commissions?)|may earn (?:a )?commission)\b"
    r"|^\W*advertisement\b|\b(?:photo(?:graph)?|foto|credit):|\breuters/|©"
)
"""Phrases only chrome uses: banners, prompts, paywalls, credits, feed footers. Matched (on
the lower-cased text) in short blocks only, so an article about a newsletter keeps its
paragraphs; written as prompts, so news that mentions logging in or a sponsor is no chrome."""
_CHROME_MAX_WORDS = 45
"""A block this short that uses a chrome phrase is chrome; a longer one is prose about it."""

_GREETING_RE = re.compile(
    r"^(hi|hello|hey|dear|good (morning|afternoon|evening)|welcome( back)?|hallo|liebe|bonjour|"
    r"hola)\b[^.!?]{0,40}[,!:]",
    re.IGNORECASE,
)


CAPTION_RE = re.compile(
    r"^(in )?(this|these|an?|the) (.{0,60}? )?(file )?(photos?|images?|pictures?|photographs?"
    r"|handout|screenshot|screengrab|video still)\b[^.]{0,80}(,|shows?|taken|made available)",
    re.IGNORECASE,
)
CREDIT_RE = re.compile(
    r"\(([\w ]{1,40} via )?(AP|AFP|EPA|Reuters|Getty Images|dpa)\b[^)]{0,60}\)$"
    r"|\b(photo|image|picture|illustration) (by|courtesy( of)?|credit):?\s",
    re.IGNORECASE,
)
"""Picture captions and credits, as agencies and newsrooms write them."""


def ends_sentence(text: str) -> bool:
    return bool(_TERMINAL_RE.search(_TRAILING_SYMBOLS_RE.sub("", text[-12:])))


def is_prose(text: str, *, min_words: int = _LEAD_MIN_WORDS) -> bool:
    """True when `text` reads like a paragraph of an article, not like site chrome.

    Enough words, ends like a sentence (or is long enough not to need to), is no byline,
    timestamp, greeting or prompt. Shared by HTML, text and feed extraction so a lead means the
    same thing everywhere.
    """
    if len(text) < min_words * 2:
        return False
    words = count_words(text)
    if words < min_words:
        return False
    if words < 40 and not ends_sentence(text):
        return False
    if _BYLINE_RE.match(text) and words < 25:
        return False
    if _DATELINE_ONLY_RE.match(text) and words < 25:
        return False
    if _GREETING_RE.match(text) and words < 25:
        return False
    if words <= _CHROME_MAX_WORDS and CHROME_RE.search(text.lower()):
        return False
    if CAPTION_RE.match(text) or CREDIT_RE.search(text[-80:]):
        return False
    if words > 80:
        return True  # that much text with sentence ends is prose, whatever its digits
    letters = len(_NON_LETTER_RE.sub("", text))
    return letters >= 0.6 * (len(text) - text.count(" "))
