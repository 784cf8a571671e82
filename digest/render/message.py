"""Per-recipient messages by substitution into an issue rendered and built once.

`MessageTemplate.build` finds every placeholder token in the frozen HTML and text (with
`digest.render.frozen.FrozenBody`, which knows each token's context) and prepares the complete
MIME message around them (`digest.render.mime`). `personalize` then only escapes a handful of
short values and joins prepared pieces: no Jinja, premailer or MIME building per recipient.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import orjson

from digest.errors import RenderError
from digest.models import OutgoingMessage, Recipient
from digest.render.frozen import FrozenBody, RenderedIssue, SpecTable
from digest.render.headers import (
    DateCache,
    address_line,
    cut_subject,
    dot_atom,
    fold,
    header_line,
    header_uri,
    list_id,
    mailbox,
    one_line,
)
from digest.render.inline import tidy_text
from digest.render.inputs import RenderSettings
from digest.render.mime import Alternatives, crlf_body, from_line
from digest.render.placeholders import token_pattern

__all__ = ["MessageTemplate", "personalize_all", "render_preview"]


class MessageTemplate:
    """The complete MIME message of one issue, built once, with slots for each recipient."""

    def __init__(
        self,
        *,
        settings: RenderSettings,
        subject: str,
        issue_key: str,
        specs: SpecTable,
        html: FrozenBody,
        text: FrozenBody,
        boundary: str,
    ) -> None:
        self.settings = settings
        self.subject = cut_subject(subject)  # one line, at most SUBJECT_MAX characters
        self.issue_key = dot_atom(issue_key)
        self.specs = specs
        self.html = html
        self.text = text
        self.boundary = boundary
        self._dates = DateCache()
        self._message_id_domain = dot_atom(settings.message_id_domain)
        self._head_from = from_line(settings.from_addr)
        sender = mailbox(settings.from_addr)
        self.from_addr = str(sender)  # one line, as the email package writes it (HTTP APIs)
        label = one_line(settings.title) or dot_atom(settings.digest_name)
        self.list_id = list_id(label, self._list_id_value())
        self._list_id_unfolded = self.list_id  # the folded form is made for the MIME head
        mailto = (settings.unsubscribe_mailto or "").strip()
        if mailto.lower().startswith("mailto:"):
            mailto = mailto[7:]
        self.mailto = f"<mailto:{header_uri(mailto)}?subject=unsubscribe>" if mailto else None
        self._head_subject = header_line("Subject", self.subject)
        reply = b""
        self.reply_to: str | None = None
        if settings.reply_to:
            replies = mailbox(settings.reply_to)
            self.reply_to = str(replies)
            reply = address_line("Reply-To", replies.display_name, replies.addr_spec)
        self._head_middle = reply + (fold(f"List-Id: {self.list_id}") + "\r\n").encode()
        self._body = Alternatives(boundary)

    def _list_id_value(self) -> str:
        return f"{dot_atom(self.settings.digest_name)}.{dot_atom(self.settings.list_id_domain)}"

    @classmethod
    def build(
        cls, rendered: RenderedIssue, settings: RenderSettings, *, issue_key: str
    ) -> MessageTemplate:
        """Prepare an issue for sending; `issue_key` makes Message-IDs unique per issue."""
        if not rendered.nonce:
            raise RenderError("the rendered issue carries no placeholder nonce")
        pattern = token_pattern(rendered.nonce)
        specs = SpecTable()
        html = FrozenBody.from_html(rendered.html, pattern, specs)
        text = FrozenBody.from_text(rendered.text, pattern, specs)
        return cls(
            settings=settings,
            subject=rendered.subject,
            issue_key=issue_key,
            specs=specs,
            html=html,
            text=text,
            boundary=Alternatives.around(rendered.html, rendered.text).boundary,
        )

    def personalize(self, recipient: Recipient) -> OutgoingMessage:
        """One recipient's message: escape their values, join the prepared pieces.

        Only the values are escaped here; each form of the message (text, JSON literal, MIME)
        is joined from the prepared pieces the first time a transport asks for it.
        """
        values = self.specs.values(recipient)
        html_pieces = self.html.pieces(values)
        text_pieces = self.text.pieces(values)
        text_needs_tidy = "" in text_pieces

        def text() -> str:
            joined = self.text.join(text_pieces)
            # An empty value can leave a trailing space or an extra blank line, which the
            # text part's tidying (done at render time) would have removed: redo it.
            return tidy_text(joined) if text_needs_tidy else joined

        date = self._dates.now()
        to_name = one_line(recipient.name)
        message_id = f"<{self.issue_key}.{recipient.delivery_id}@{self._message_id_domain}>"
        headers = {"List-Id": self._list_id_unfolded}
        unsubscribe = []
        url = header_uri(recipient.unsubscribe_url)
        if url:
            unsubscribe.append(f"<{url}>")
        if self.mailto:
            unsubscribe.append(self.mailto)
        unsub_line = b""
        if unsubscribe:
            headers["List-Unsubscribe"] = ", ".join(unsubscribe)
            unsub_line = ("List-Unsubscribe: " + ",\r\n ".join(unsubscribe) + "\r\n").encode()
            if url[:8].lower() == "https://":
                headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
                unsub_line += b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        headers["Message-ID"] = message_id
        headers["Date"] = date

        def mime() -> bytes:
            html_bytes, html_fits = self.html.fill_bytes(html_pieces)
            if text_needs_tidy:
                text_bytes, text_fits = crlf_body(message.text)
            else:
                text_bytes, text_fits = self.text.fill_bytes(text_pieces)
            head = (
                self._head_from,
                address_line("To", to_name, recipient.email),
                self._head_subject,
                b"Date: ",
                date.encode(),
                b"\r\nMessage-ID: ",
                message_id.encode(),
                b"\r\n",
                self._head_middle,
                unsub_line,
            )
            return self._body.message(head, text_bytes, text_fits, html_bytes, html_fits)

        message = OutgoingMessage(
            delivery_id=recipient.delivery_id,
            to_email=recipient.email,
            to_name=to_name,
            from_addr=self.from_addr,
            reply_to=self.reply_to,
            subject=self.subject,
            html=lambda: self.html.join(html_pieces),
            text=text,
            headers=headers,
            mime=mime,
            tag=self.settings.digest_name,
            html_json=lambda: self.html.fill_json(html_pieces),
            text_json=(
                (lambda: orjson.dumps(message.text))
                if text_needs_tidy
                else (lambda: self.text.fill_json(text_pieces))
            ),
        )
        return message


def personalize_all(
    template: MessageTemplate, recipients: Iterable[Recipient]
) -> Iterator[OutgoingMessage]:
    """Messages one at a time, so memory stays flat however long the list is."""
    for recipient in recipients:
        yield template.personalize(recipient)


def render_preview(rendered: RenderedIssue, recipient: Recipient) -> tuple[str, str]:
    """The HTML and text a given subscriber would receive (for `digest preview`)."""
    pattern = token_pattern(rendered.nonce)
    specs = SpecTable()
    html = FrozenBody.from_html(rendered.html, pattern, specs)
    text = FrozenBody.from_text(rendered.text, pattern, specs)
    values = specs.values(recipient)
    text_filled, text_pieces = text.fill(values)
    if "" in text_pieces:
        text_filled = tidy_text(text_filled)
    return html.fill(values)[0], text_filled
