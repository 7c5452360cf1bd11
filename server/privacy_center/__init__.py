"""The public privacy center: the front page, disclosures, the visitor's own records, gpc.json."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from flask import Blueprint, render_template, request

from .. import i18n
from ..db import get_db
from ..storage import registry as registry_store

bp = Blueprint("privacy_center", __name__)

# Scripts only from this server's own files: nothing an admin typed can ever run.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
JST = timezone(timedelta(hours=9))


@bp.after_request
def security_headers(response):
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    # The consent page's path holds a consent id: never hand it to the sites linked from it.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.add("Vary", "Accept-Language")
    return response


def visitor_language() -> str:
    return i18n.pick(request.args.get("lang"), request.accept_languages)


def when(stamp: str | None, lang: str, with_time: bool = True) -> str:
    """A stored UTC time for people: Japan time in Japanese, UTC in English."""
    if not stamp:
        return ""
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if lang == "ja":
        moment = moment.astimezone(JST)
        day = f"{moment.year}年{moment.month}月{moment.day}日"
        return f"{day} {moment:%H:%M}（日本時間）" if with_time else day
    day = f"{moment.day} {moment:%B} {moment.year}"
    return f"{day}, {moment:%H:%M} UTC" if with_time else day


def lang_url(lang: str) -> str:
    """This page in another language: the same path and query, `lang` replaced."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"] + [("lang", lang)]
    return f"{request.path}?{urlencode(args)}"


def render(template: str, lang: str, status: int = 200, **context):
    if not context.get("organization"):
        context["organization"] = registry_store.organization(get_db())

    def t(key, **values):
        return i18n.t(lang, key, **values)

    def text(texts):
        return i18n.text_in(texts, lang)

    html = render_template(
        template,
        lang=lang,
        t=t,
        text=text,
        lang_url=lang_url,
        when=lambda stamp, with_time=True: when(stamp, lang, with_time),
        languages=i18n.LANGUAGES,
        language_names=i18n.LANGUAGE_NAMES,
        **context,
    )
    return html, status, {"Content-Type": "text/html; charset=utf-8"}


def not_found(lang: str | None = None):
    lang = lang or visitor_language()
    return render("privacy_center/not_found.html", lang, 404)


from . import api, consents, pages  # noqa: E402,F401  (they add their routes to bp)
