"""The admin UI's two languages: English texts are the keys, Japanese the translations."""

from __future__ import annotations

from flask import has_request_context, request, session

from . import bp
from .messages_ja import JA

LANGUAGES = {"en": "English", "ja": "日本語"}


def current() -> str:
    """The language chosen with the header's button; before any choice, the browser's own."""
    if not has_request_context():
        return "en"
    lang = session.get("lang")
    if lang in LANGUAGES:
        return lang
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def gettext(text: str, **values) -> str:
    if current() == "ja":
        text = JA.get(text, text)
    return text.format(**values) if values else text


def pick(texts: dict | None) -> str:
    """A registry text in the admin's language, else in any language it has."""
    if not texts:
        return ""
    return texts.get(current()) or next(iter(texts.values()), "")


@bp.context_processor
def _template_helpers():
    # Blueprint-only, so that other areas' templates keep their own `_`.
    return {"_": gettext, "ui_lang": current(), "pick": pick, "LANGUAGES": LANGUAGES}
