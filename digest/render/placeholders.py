"""Recipient placeholders: how an issue is rendered once for everyone.

Templates see a `recipient` whose fields are placeholder tokens. A token is
`DgsT<nonce>_<hex>_`: letters, digits and underscores only, so Jinja's escaping, lxml's
text/attribute/URL serialization, premailer and textwrap leave it alone. <hex> is the UTF-8
JSON of the field and the filters the template applied, so the frozen HTML and text describe
themselves. The nonce is random per issue and absent from the issue's text, so outside text
cannot forge a token, and a token a filter mangled is noticed (`check_tokens`).

`TemplateRecipient(nonce, recipient)` gives real values instead, for a direct render: the
reference the per-recipient substitution (`digest.render.message`) is tested against.
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from jinja2 import filters as jinja_filters

from digest.errors import RenderError
from digest.models import Recipient
from digest.render.inputs import IssueContent, RenderSettings

__all__ = [
    "PLACEHOLDER_FILTERS",
    "RECIPIENT_FIELDS",
    "TOKEN_PREFIX",
    "FieldSpec",
    "Placeholder",
    "RecipientValue",
    "TemplateRecipient",
    "apply_ops",
    "check_tokens",
    "clean_value",
    "nonce_for",
    "token_pattern",
]

TOKEN_PREFIX = "DgsT"
RECIPIENT_FIELDS = ("name", "email", "unsubscribe_url", "preferences_url", "web_url")
# Filters a template may apply to a recipient field; they are replayed per recipient.
PLACEHOLDER_FILTERS: dict[str, Callable[..., Any]] = {
    "default": jinja_filters.do_default,
    "d": jinja_filters.do_default,
    "urlencode": jinja_filters.do_urlencode,
    "upper": jinja_filters.do_upper,
    "lower": jinja_filters.do_lower,
    "title": jinja_filters.do_title,
    "capitalize": jinja_filters.do_capitalize,
    "trim": jinja_filters.do_trim,
}


def token_pattern(nonce: str) -> re.Pattern[str]:
    return re.compile(rf"{TOKEN_PREFIX}{re.escape(nonce)}_([0-9a-f]+)_")


@dataclass(frozen=True)
class FieldSpec:
    """One recipient value as a template asked for it: which field, then which filters."""

    field: str  # one of RECIPIENT_FIELDS, or "attr:<key>"
    ops: tuple[tuple[Any, ...], ...] = ()  # (filter name, *args)

    def encode(self) -> str:
        raw = json.dumps(
            [self.field, [list(op) for op in self.ops]], ensure_ascii=False, separators=(",", ":")
        )
        return raw.encode().hex()

    @classmethod
    def decode(cls, hexed: str) -> FieldSpec:
        name, ops = json.loads(bytes.fromhex(hexed).decode())
        return cls(name, tuple(tuple(op) for op in ops))

    def value(self, recipient: Recipient) -> str:
        """The field's value for one recipient, cleaned, with the template's filters applied."""
        if self.field.startswith("attr:"):
            raw = recipient.attributes.get(self.field[5:], "")
        else:
            raw = getattr(recipient, self.field)
        value = clean_value(raw)
        return apply_ops(value, self.ops) if self.ops else value


def apply_ops(value: str, ops: Iterable[tuple[Any, ...]]) -> str:
    for name, *args in ops:
        if name in ("default", "d"):
            # A recipient field is never undefined, only empty: `default` means "if empty".
            value = value or str(args[0] if args else "")
        else:
            value = str(PLACEHOLDER_FILTERS[name](value, *args))
    return value


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff\ud800-\udfff]+")


def clean_value(raw: object) -> str:
    """Recipient values as every template sees them: one line, no control characters.

    This keeps a name from injecting headers or MIME boundaries, and makes the substituted
    output byte-identical to a direct render (the HTML parser would rewrite CR and NUL).
    """
    text = str(raw) if raw is not None else ""
    if text.isascii() and text.isprintable():
        return text.strip()
    return _CONTROL.sub(" ", unicodedata.normalize("NFC", text)).strip()


class Placeholder(str):
    """A recipient field in placeholder mode: renders as its token, refuses to be tested."""

    spec: FieldSpec

    def __new__(cls, spec: FieldSpec, nonce: str) -> Placeholder:
        obj = super().__new__(cls, f"{TOKEN_PREFIX}{nonce}_{spec.encode()}_")
        obj.spec = spec
        return obj

    def with_op(self, op: tuple[Any, ...]) -> Placeholder:
        nonce = str(self)[len(TOKEN_PREFIX) :].split("_", 1)[0]
        return Placeholder(FieldSpec(self.spec.field, (*self.spec.ops, op)), nonce)

    def __html__(self) -> str:
        return str(self)

    def __bool__(self) -> bool:
        raise RenderError(
            f"a template tests the recipient field {self.spec.field!r}; the issue is rendered "
            "once for everyone, so use `| default(...)` instead of `if`/`or`"
        )

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise RenderError(
            f"a template computes with the recipient field {self.spec.field!r}; the issue is "
            "rendered once for everyone, so only these filters can be applied: "
            + ", ".join(sorted(PLACEHOLDER_FILTERS))
        )


# Anything that would compute with the token instead of the value is refused.
_REFUSED_STR_METHODS = (  # noqa: SIM905 (a word list reads better than 57 quoted items)
    "__getitem__ __len__ __iter__ __contains__ __mod__ __mul__ __rmul__ __lt__ __le__ __gt__ "
    "__ge__ capitalize casefold center count encode endswith expandtabs find format format_map "
    "index isalnum isalpha isascii isdecimal isdigit isidentifier islower isnumeric isprintable "
    "isspace istitle isupper join ljust lower lstrip partition removeprefix removesuffix replace "
    "rfind rindex rjust rpartition rsplit rstrip split splitlines startswith strip swapcase "
    "title translate upper zfill"
).split()
for _name in _REFUSED_STR_METHODS:
    setattr(Placeholder, _name, Placeholder._refuse)


class RecipientValue(str):
    """A recipient field in direct mode; lets the filter wrappers know it is one."""


class _Attributes:
    """`recipient.attributes.<key>` / `["key"]` / `.get("key", fallback)` in templates."""

    def __init__(self, make: Callable[[str], str]) -> None:
        self._make = make

    def __getattr__(self, key: str) -> str:
        if key.startswith("_"):
            raise AttributeError(key)
        return self._make(key)

    def __getitem__(self, key: str) -> str:
        return self._make(key)

    def get(self, key: str, fallback: str = "") -> str:
        value = self._make(key)
        if isinstance(value, Placeholder):
            return value.with_op(("default", fallback))
        return value or RecipientValue(fallback)


class TemplateRecipient:
    """What templates see as `recipient`: placeholders, or real values for a direct render."""

    def __init__(self, nonce: str, recipient: Recipient | None = None) -> None:
        self._nonce = nonce
        self._recipient = recipient
        self.attributes = _Attributes(lambda key: self._field(f"attr:{key}"))

    def _field(self, name: str) -> str:
        spec = FieldSpec(name)
        if self._recipient is None:
            return Placeholder(spec, self._nonce)
        return RecipientValue(spec.value(self._recipient))

    @property
    def name(self) -> str:
        return self._field("name")

    @property
    def email(self) -> str:
        return self._field("email")

    @property
    def unsubscribe_url(self) -> str:
        return self._field("unsubscribe_url")

    @property
    def preferences_url(self) -> str:
        return self._field("preferences_url")

    @property
    def web_url(self) -> str:
        return self._field("web_url")


def check_tokens(output: str, nonce: str, where: str) -> None:
    """Every token fragment must still be a whole, decodable token (no filter mangled it).

    A fragment is the first 6 characters of the random nonce, in any case: a cut, a case
    change or a replace leaves them behind, and outside text cannot contain them by chance or
    design (the nonce is chosen not to occur in the content). Placeholder refuses most such
    operations itself; this catches the ones done on a string the placeholder was joined into.
    """
    pattern = token_pattern(nonce)
    spans = [(m.start(), m.end()) for m in pattern.finditer(output)]
    fragments = re.compile(re.escape(nonce[:6]), re.IGNORECASE)
    for m in fragments.finditer(output):
        if not any(a <= m.start() < b for a, b in spans):
            raise RenderError(
                f"the {where} template changed a recipient field with a filter personalization "
                f"cannot replay (allowed: {', '.join(sorted(PLACEHOLDER_FILTERS))})"
            )
    for m in pattern.finditer(output):
        try:
            spec = FieldSpec.decode(m.group(1))
        except (ValueError, UnicodeDecodeError) as exc:
            raise RenderError(f"the {where} template cut a recipient field short") from exc
        if spec.field not in RECIPIENT_FIELDS and not spec.field.startswith("attr:"):
            raise RenderError(f"unknown recipient field {spec.field!r}")


def nonce_for(content: IssueContent, settings: RenderSettings) -> str:
    """Random per issue, and absent from all its text: nothing outside can forge or trip it."""
    blob = json.dumps(
        [[asdict(a) for a in content.articles], asdict(content), asdict(settings)], default=str
    ).lower()
    while True:
        nonce = secrets.token_hex(5)
        if nonce[:6] not in blob:
            return nonce
