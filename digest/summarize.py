"""Summaries: the lead cut to the digest's word budget, or a model's summary over HTTP.

The default needs no service: an article's lead already says what happened, so the summary is
that lead cut at a sentence boundary. Cutting right is the whole job, hence a real sentence
segmenter that knows "U.S.", "Sen.", "z. B." and "3,5 Mrd." do not end sentences.

The chat summarizer calls any OpenAI-compatible /chat/completions endpoint and falls back to
the lead summarizer on any error, so a flaky model never empties an issue.
"""

from __future__ import annotations

__all__ = [
    "ChatSummarizer",
    "LeadSummarizer",
    "Summarizer",
    "split_sentences",
    "trim_to_words",
]

import logging
import os
import re
from typing import Any, Protocol

import httpx

from digest.fetch import sync_http_client

LOGGER = logging.getLogger(__name__)


def _words(text: str) -> frozenset[str]:
    """A set of words written as one whitespace-separated string (easier to read and edit)."""
    return frozenset(text.split())


DEFAULT_WORDS = 60


class Summarizer(Protocol):
    """Turns an article's text (its lead, usually) into a summary of at most `words` words."""

    def summarize(
        self, text: str, *, words: int = DEFAULT_WORDS, language: str | None = None
    ) -> str:
        """Return the summary; never raises for bad input, returns "" for empty text."""
        ...


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


def _count(text: str) -> int:
    return len(text.split())


def _balance(text: str) -> str:
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
    return _balance(cut + "…")


class LeadSummarizer:
    """The default summarizer: the lead, cut to the word budget at a sentence boundary.

    Whole sentences while they fit; when even the first sentence is over budget, it is cut at
    a word boundary and ends with "…". Whitespace is normalized and quotes/brackets balanced.
    """

    def summarize(
        self, text: str, *, words: int = DEFAULT_WORDS, language: str | None = None
    ) -> str:
        text = " ".join((text or "").split())
        if not text or words <= 0:
            return ""
        if _count(text) <= words:
            return _balance(text)
        kept: list[str] = []
        total = 0
        for sentence in split_sentences(text, language):
            size = _count(sentence)
            if total + size > words:
                break
            kept.append(sentence)
            total += size
        if not kept:
            return trim_to_words(text, words)
        return _balance(" ".join(kept))


# --------------------------------------------------------------------------------------------
# An OpenAI-compatible model over HTTP

_SYSTEM_PROMPT = (
    "You write the summary of a news article for an email digest. Reply with the summary only: "
    "plain text, one paragraph, at most {words} words, in {language}. State what happened; "
    "no preamble, no opinion, no markdown, no quotation marks around the reply."
)
_LANGUAGE_NAMES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "pt": "Portuguese",
    "it": "Italian",
    "nl": "Dutch",
}


class ChatSummarizer:
    """Summaries from an OpenAI-compatible chat-completions endpoint, the lead summarizer as
    the fallback on any error, timeout or empty answer.

    `base_url` is the API root (".../v1"); the request goes to `{base_url}/chat/completions`.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None,
        *,
        fallback: Summarizer | None = None,
        timeout: float = 20.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.fallback: Summarizer = fallback or LeadSummarizer()
        self.timeout = timeout
        self._client = client
        self._trim = LeadSummarizer()

    @classmethod
    def from_settings(
        cls,
        base_url: str,
        model: str,
        api_key_env: str | None = None,
        *,
        timeout: float = 20.0,
        fallback: Summarizer | None = None,
    ) -> ChatSummarizer:
        """Build from configuration, which names the environment variable holding the key."""
        key = os.environ.get(api_key_env) if api_key_env else None
        return cls(base_url, model, key, timeout=timeout, fallback=fallback)

    def summarize(
        self, text: str, *, words: int = DEFAULT_WORDS, language: str | None = None
    ) -> str:
        text = " ".join((text or "").split())
        if not text or words <= 0:
            return ""
        try:
            answer = self._ask(text, words, language)
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            LOGGER.warning("summarizer %s failed (%s); using the lead", self.url, _describe(exc))
            return self.fallback.summarize(text, words=words, language=language)
        answer = " ".join(answer.split()).strip("\"'“”")
        if not answer:
            LOGGER.warning("summarizer %s returned nothing; using the lead", self.url)
            return self.fallback.summarize(text, words=words, language=language)
        # A model may overshoot the budget; cut it like a lead rather than trust it.
        return self._trim.summarize(answer, words=words, language=language)

    def _ask(self, text: str, words: int, language: str | None) -> str:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {
                    "role": "system",
                    "content": _SYSTEM_PROMPT.format(
                        words=words,
                        language=_LANGUAGE_NAMES.get(
                            (language or "")[:2], "the article's language"
                        ),
                    ),
                },
                {"role": "user", "content": text[:12000]},
            ],
            "temperature": 0.2,
            "max_tokens": max(64, words * 3),
        }
        if self._client is not None:
            response = self._client.post(
                self.url, json=payload, headers=headers, timeout=self.timeout
            )
        else:
            with sync_http_client(timeout=self.timeout) as client:
                response = client.post(self.url, json=payload, headers=headers)
        response.raise_for_status()
        content = response.json()["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise TypeError("message content is not text")
        return content


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
