"""Storage and server URLs with their secrets masked, for messages, tags, params and logs.

Every URL skysieve prints or records goes through :func:`safe_url`: a
password never reaches a run tag, a param, a log line or an artifact, even
when the URL is not one SQLAlchemy can parse. Free text that may quote a URL
(another library's error message) goes through :func:`safe_text`.
"""

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["redact", "safe_text", "safe_url"]

#: ``scheme://user:password@host`` — the userinfo password.
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^/@:?#\s]*:)(?P<secret>[^@/?#\s]*)(?P<at>@)")
#: ``?password=…`` and its kin in a query string.
_QUERY = re.compile(r"(?P<head>[?&;](?:password|passwd|pwd|secret|token|access_key|secret_key|aws_secret_access_key)=)"
                    r"(?P<secret>[^&;#\s]*)", re.IGNORECASE)


def safe_url(url: str) -> str:
    """``url`` with any password (in the userinfo or in the query) replaced by ``***``.

    SQLAlchemy's own rendering is used where it parses the URL (so the
    form is the familiar one); anything it cannot parse is masked by pattern,
    never returned as given.
    """
    text = str(url)
    try:
        from sqlalchemy.engine import make_url

        text = make_url(text).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not an SQLAlchemy URL: masked by pattern below
        pass
    return safe_text(text)


def safe_text(text: str) -> str:
    """``text`` (a message that may quote URLs anywhere in it) with every URL password replaced by ``***``.

    For messages of other libraries, which may repeat the URL they were
    given (a driver's or an HTTP client's error). A query value is masked up
    to the next ``&``, ``;``, ``#`` or space.
    """
    text = _USERINFO.sub(lambda m: f"{m['head']}***{m['at']}" if m["secret"] != "***" else m[0], str(text))
    return _QUERY.sub(lambda m: f"{m['head']}***", text)


def redact(value: Any) -> Any:
    """``value`` (JSON-ready dicts, lists, scalars) with every URL in it passed through :func:`safe_url`."""
    if isinstance(value, str):
        return safe_url(value) if "://" in value or "password=" in value.lower() else value
    if isinstance(value, Mapping):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    return value
