"""Masking of credentials in text a scaler shows: URLs with `user:pass@` and known secret values.

The one place every scaler masks with, so that a credential looks the same wherever it is hidden.

KEDA's RabbitMQ scaler rewrites every `name:secret@` in an error message to `user:password@`; Ebb does
the same and then also blanks any known secret value (raw or percent-encoded) that is still left, so a
password never reaches a log, a status or a metric, whatever shape the underlying library gave it.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable

# KEDA's shape (`name:secret@`), widened to an empty user (`redis://:secret@host`) and a colon inside
# the password; whitespace, `/` and `@` end either part. Found from each `@` by looking back at the
# token before it (linear time: a regex such as `([^\s/:@]*):([^\s/@]+)@` backtracks quadratically on
# a long run of `:` without an `@`, which is what a hostile 40 KB parameter is).
MASKED_USERINFO = "user:password@"
REDACTED = "[redacted]"


def _token_before(piece: str) -> str:
    """The run of characters at the end of `piece` holding no whitespace and no `/` (may be empty)."""
    if not piece or piece[-1].isspace() or piece[-1] == "/":
        return ""
    return piece.rsplit(None, 1)[-1].rsplit("/", 1)[-1]


def mask_userinfo(text: str) -> str:
    """Replace every `user:pass@` with `user:password@`, as KEDA does (in time linear in `text`)."""
    if "@" not in text:
        return text
    pieces = text.split("@")
    out: list[str] = []
    for piece in pieces[:-1]:
        token = _token_before(piece)
        _user, colon, password = token.partition(":")
        if colon and password:
            out.append(piece[: len(piece) - len(token)])
            out.append(MASKED_USERINFO)
        else:
            out.append(piece)
            out.append("@")
    out.append(pieces[-1])
    return "".join(out)


def _forms(secret: str) -> set[str]:
    return {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret, safe=""),
        urllib.parse.quote(secret),
    }


def mask(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`mask_userinfo`, then every remaining occurrence of a secret (in any URL encoding) redacted."""
    masked = mask_userinfo(text)
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms |= _forms(secret)
    # Longest first, so a secret that contains another is replaced whole.
    for form in sorted(forms, key=len, reverse=True):
        if form:
            masked = masked.replace(form, REDACTED)
    return masked


def without_userinfo(url: str) -> str:
    """`url` with any `user[:pass]@` removed (for sharing keys and messages)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=host))
