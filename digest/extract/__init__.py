"""Extraction: one document (HTML page, text or Markdown file, feed item) -> ExtractedArticle.

The stage every article goes through before selection and summary. trafilatura finds the main
text; our own rules then pick the title and the lead paragraph, because a lead that starts with a
byline, a caption or a cookie banner is the one mistake a subscriber always notices.

    bytes --decode--> str --lxml (once)--> tree --+--> metadata (meta tags, JSON-LD, <h1>)
                                                  +--> trafilatura (precision, fast) -> body text
                                                  +--> lead rules over the page's blocks

    document.py    what a document is (HTML, Markdown, text, gzip, binary) and who reads it
    html.py        pages: parsed once, main text by trafilatura, `extract_html`
    metadata.py    title, date, author, image, language from meta tags, JSON-LD and markup
    lead.py        the lead rules over the page's blocks
    prose.py       what a lead is as text: prose, not chrome
    plaintext.py   text and Markdown files
    feed_item.py   a feed item's own body

The rules look at how pages are built, never at a particular site or text:

Title. The visible <h1> when it agrees with what the page declares (og:title, JSON-LD headline,
<title>); an <h1> that is only the site's name loses; otherwise og:title/<title> without its
" | Site" segment (a segment naming og:site_name, the publisher or the host).

Lead. The first block of real prose inside the article's body container.
  * Blocks: <p>, text-bearing <div>/<td>/<section>, and <div>s of inline text; <br><br> and
    child blocks with text split them, a single <br> only after a finished sentence. Inline
    widgets inside a paragraph (a hover card: a picture or a run of links) are dropped.
  * Real prose (is_prose): at least 15 words, ends like a sentence (or runs 40+ words), at most
    60 % linked text, and is no byline, timestamp, greeting, picture caption or credit, nor a
    short block using a chrome phrase (cookies, sign up, advertisement, "min read"...).
  * Body container: the deepest element holding 80 % of the page's prose words, comment threads
    left out. Deks, kickers, bylines and promos around the headline fall outside it; inside it,
    blocks under class/id hints (caption, credit, promo, newsletter, share, related, ad...)
    and an ad after its "Advertisement" label are skipped. Hints on wrappers above the
    container are layout and ignored.
  * Exceptions: the body's very first block may lack its final stop (20+ words); a block marked
    intro/lede/summary just before the container leads.
  * Fallbacks: first prose block after the headline anywhere, then trafilatura's first.
"""

from digest.extract.document import MAX_DOCUMENT_BYTES, extract_document, extract_file
from digest.extract.feed_item import extract_feed_item
from digest.extract.html import extract_html
from digest.extract.metadata import guess_language
from digest.extract.plaintext import extract_text
from digest.extract.prose import is_prose

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "extract_document",
    "extract_feed_item",
    "extract_file",
    "extract_html",
    "extract_text",
    "guess_language",
    "is_prose",
]
