"""HTML pages: Jinja2 environments per language, the language choice, and the cookies pages set."""

from __future__ import annotations

import re
from collections.abc import Hashable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from broker import i18n
from broker.api.translated_templates import TranslatedEnvironment

_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LANGUAGE_COOKIE = "broker_lang"
# A relying party's ui_locales, for the rest of the browser session (a session cookie): the flow's later
# pages (shown again at /login, at the callback) keep the language its login page was shown in.
HINT_COOKIE = "broker_ui_lang"
_KEPT_ON_LANGUAGE_SWITCH = ("flow",)
_VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
# A value neither a URL's encoding nor HTML's escaping changes: a slot's placeholder, and what may fill it.
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_PLACEHOLDER = re.compile(r"BrokerSlot(\d+)Z")
_SLOTTED_PAGES = 256  # shapes kept at most: languages × clients × upstream forms, bounded by configuration


class Slots:
    """The per-request values of a page rendered once per shape (``Pages.render_slotted``): a flow's id,
    its upstream state, nonce and PKCE challenge. Each is given to the page's context as a placeholder,
    which the page's output holds where the value goes."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def __call__(self, value: str) -> str:
        if not is_token(value):
            raise ValueError("only URL-safe tokens fill a page's slots")
        self.values.append(value)
        return f"BrokerSlot{len(self.values) - 1}Z"


_UNSEEN: Any = object()


def _filled(value: Any, values: list[str]) -> Any:
    """A context value with its placeholders replaced by the values they stand for."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda found: values[int(found[1])], value)
    if isinstance(value, list | tuple):
        return type(value)(_filled(item, values) for item in value)
    return value


def _fill(shape: tuple[list[bytes], list[int]], values: list[str]) -> bytes:
    """The page's bytes: its shape's, encoded once, around the slots' values (URL-safe tokens, ASCII):
    a Vietnamese page's 8 KB are not encoded to UTF-8 again at every request (issue 7)."""
    texts, order = shape
    filled = [texts[0]]
    for index, text in zip(order, texts[1:], strict=True):
        filled += (values[index].encode(), text)
    return b"".join(filled)


def is_token(value: str) -> bool:
    """Whether ``value`` may fill a slot (``Slots``)."""
    return _TOKEN.fullmatch(value) is not None


def _frozen(value: Any) -> Hashable:
    """A context value as part of a cache key: lists and tuples (of tuples) as tuples."""
    if type(value) is str:
        return value
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    return value  # type: ignore[no-any-return]


def vietnam_date(instant: datetime | None) -> str | None:
    """A policy date as the letters write it (15/6/2024), in Vietnam time."""
    if instant is None:
        return None
    local = instant.astimezone(_VIETNAM)
    return f"{local.day}/{local.month}/{local.year}"


def _vn_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(_VIETNAM).date()
    return f"{value.day:02d}/{value.month:02d}/{value.year}"


def _vn_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(_VIETNAM)
    return f"{local.day:02d}/{local.month:02d}/{local.year} {local.hour:02d}:{local.minute:02d}"


class Pages:
    def __init__(
        self,
        default_language: str,
        secure_cookies: bool,
        citizen_cutoff: datetime | None = None,
        auto_reload: bool = True,
    ) -> None:
        self._default = default_language
        self._secure = secure_cookies
        self._static_paths: dict[str, str] = {}  # per root path (the server's setting, not the request's)
        # Shown on every page that states the rule; a setting, like the policy that applies it.
        self._citizen_cutoff = vietnam_date(citizen_cutoff)
        self._environments = {
            language: self._environment(language, auto_reload) for language in i18n.LANGUAGES
        }
        # Pages rendered once per shape, split at their slots (``render_slotted``); not while templates
        # may change on disk.
        self._slotted: dict[Hashable, tuple[list[bytes], list[int]] | None] | None = (
            None if auto_reload else {}
        )

    @staticmethod
    def _environment(language: str, auto_reload: bool) -> Environment:
        environment = TranslatedEnvironment(
            i18n.translations(language),
            # Re-reading templates changed on disk means a stat() of every template on every render:
            # for development only.
            auto_reload=auto_reload,
            loader=FileSystemLoader(_TEMPLATES),
            autoescape=select_autoescape(["html"]),
        )
        environment.filters["vn_date"] = _vn_date
        environment.filters["vn_datetime"] = _vn_datetime
        return environment

    def _static_path(self, request: Request) -> str:
        """The stylesheet's path, looked up once per root path (issue 7: ``url_for`` walks the routes at
        every page)."""
        root = request.scope.get("root_path", "")
        path = self._static_paths.get(root)
        if path is None:
            path = self._static_paths[root] = str(request.url_for("static", path="broker.css").path)
        return path

    def language(self, request: Request, hinted: str | None = None) -> str:
        return i18n.choose(
            request.query_params.get("lang"),
            request.cookies.get(LANGUAGE_COOKIE),
            self._default,
            hinted=hinted or request.cookies.get(HINT_COOKIE),
        )

    def render(
        self,
        request: Request,
        template: str,
        *,
        status_code: int = 200,
        switch_to: str | None = None,
        hinted: str | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """``switch_to``: the GET address that shows this same page (and login flow) again, for the
        language links of a page answered to a POST or at a callback URL, which cannot be reloaded.
        ``hinted``: the language of the authorization request's ``ui_locales``, if it has one the pages
        speak (``i18n.from_ui_locales``)."""
        language = self.language(request, hinted)

        def lang_query(target: str) -> str:
            # Only the flow id is carried over: a callback's query holds a code and state, which must
            # never be echoed into a page.
            params = [(k, v) for k, v in request.query_params.multi_items() if k in _KEPT_ON_LANGUAGE_SWITCH]
            return urlencode([*params, ("lang", target)])

        def lang_href(target: str) -> str:
            if switch_to is None:
                return f"?{lang_query(target)}"
            parts = urlsplit(switch_to)
            kept = [(k, v) for k, v in parse_qsl(parts.query) if k != "lang"]
            return f"{parts.path}?{urlencode([*kept, ('lang', target)])}"

        html = (
            self._environments[language]
            .get_template(template)
            .render(
                language=language,
                lang_query=lang_query,
                lang_href=lang_href,
                citizen_cutoff=self._citizen_cutoff,
                static_url=self._static_path(request),
                **context,
            )
        )
        return self._with_cookies(request, HTMLResponse(html, status_code=status_code), language, hinted)

    def render_slotted(
        self,
        request: Request,
        template: str,
        slots: Slots,
        *,
        switch_to: str,
        hinted: str | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """``render`` for a page whose only per-request values are ``slots``' (the placeholders that
        ``context`` and ``switch_to`` hold): rendered once per shape (the template, its language, the
        rest of its context), then filled in (issue 7: rendering the login page was a sixth of
        /authorize). The same bytes as ``render``. Only for pages whose language links lead to
        ``switch_to``: the others' links carry the request's own query."""
        language = self.language(request, hinted)
        if self._slotted is None:
            return self._render_filled(request, template, slots, switch_to, hinted, context)
        static_url = self._static_path(request)
        key: Hashable = (template, language, static_url, switch_to, *context.items())
        try:
            shape = self._slotted.get(key, _UNSEEN)
        except TypeError:  # a list in the context: frozen into tuples (a caller's tuples need nothing)
            key = (template, language, static_url, switch_to, *map(_frozen, context.items()))
            shape = self._slotted.get(key, _UNSEEN)
        if shape is _UNSEEN:
            rendered = self.render(request, template, switch_to=switch_to, hinted=hinted, **context)
            pieces = _PLACEHOLDER.split(bytes(rendered.body).decode())
            shape = ([text.encode() for text in pieces[0::2]], [int(index) for index in pieces[1::2]])
            full = self._render_filled(request, template, slots, switch_to, hinted, context)
            if _fill(shape, slots.values) != bytes(full.body):
                # The template changes a value (a filter) or decides on it: this shape is rendered each time.
                shape = None
            if len(self._slotted) >= _SLOTTED_PAGES:
                self._slotted.clear()  # configuration changed many times over: start again
            self._slotted[key] = shape
            return full  # this request's page, rendered in full already
        if shape is None:
            return self._render_filled(request, template, slots, switch_to, hinted, context)
        return self._with_cookies(request, HTMLResponse(_fill(shape, slots.values)), language, hinted)

    def _render_filled(
        self,
        request: Request,
        template: str,
        slots: Slots,
        switch_to: str,
        hinted: str | None,
        context: dict[str, Any],
    ) -> HTMLResponse:
        """``render`` of a slotted page's context with its placeholders replaced."""
        filled = {name: _filled(value, slots.values) for name, value in context.items()}
        return self.render(
            request, template, switch_to=_filled(switch_to, slots.values), hinted=hinted, **filled
        )

    def _with_cookies(
        self, request: Request, response: HTMLResponse, language: str, hinted: str | None
    ) -> HTMLResponse:
        if request.query_params.get("lang") in i18n.LANGUAGES:
            response.set_cookie(
                LANGUAGE_COOKIE,
                language,
                max_age=365 * 86400,
                httponly=True,
                samesite="lax",
                secure=self._secure,
            )
        elif hinted is not None and language == hinted:
            response.set_cookie(HINT_COOKIE, hinted, httponly=True, samesite="lax", secure=self._secure)
        return response

    def error(
        self, request: Request, kind: str, status_code: int, reason: str | None = None, **context: Any
    ) -> HTMLResponse:
        return self.render(
            request, "error.html", status_code=status_code, kind=kind, reason=reason, **context
        )
