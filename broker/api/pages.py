"""HTML pages: Jinja2 environments per language, the language choice, and the cookies pages set."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from broker import i18n

_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LANGUAGE_COOKIE = "broker_lang"
_KEPT_ON_LANGUAGE_SWITCH = ("flow",)


class Pages:
    def __init__(self, default_language: str, secure_cookies: bool) -> None:
        self._default = default_language
        self._secure = secure_cookies
        self._environments = {language: self._environment(language) for language in i18n.LANGUAGES}

    @staticmethod
    def _environment(language: str) -> Environment:
        environment = Environment(
            loader=FileSystemLoader(_TEMPLATES),
            autoescape=select_autoescape(["html"]),
            extensions=["jinja2.ext.i18n"],
        )
        environment.install_gettext_translations(i18n.translations(language), newstyle=True)  # type: ignore[attr-defined]
        return environment

    def language(self, request: Request) -> str:
        return i18n.choose(
            request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE), self._default
        )

    def render(
        self, request: Request, template: str, *, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        language = self.language(request)

        def lang_query(target: str) -> str:
            # Only the flow id is carried over: a callback's query holds a code and state, which must
            # never be echoed into a page.
            params = [(k, v) for k, v in request.query_params.multi_items() if k in _KEPT_ON_LANGUAGE_SWITCH]
            return urlencode([*params, ("lang", target)])

        html = (
            self._environments[language]
            .get_template(template)
            .render(
                language=language,
                lang_query=lang_query,
                static_url=str(request.url_for("static", path="broker.css").path),
                **context,
            )
        )
        response = HTMLResponse(html, status_code=status_code)
        if request.query_params.get("lang") in i18n.LANGUAGES:
            response.set_cookie(
                LANGUAGE_COOKIE,
                language,
                max_age=365 * 86400,
                httponly=True,
                samesite="lax",
                secure=self._secure,
            )
        return response

    def error(
        self, request: Request, kind: str, status_code: int, reason: str | None = None, **context: Any
    ) -> HTMLResponse:
        return self.render(
            request, "error.html", status_code=status_code, kind=kind, reason=reason, **context
        )
