"""Messages translated when a template is compiled render exactly as Jinja's i18n extension renders them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from babel.support import NullTranslations
from jinja2 import ChainableUndefined, Environment, FileSystemLoader, select_autoescape

from broker import i18n
from broker.api.pages import Pages
from broker.api.translated_templates import TranslatedEnvironment

TEMPLATES = Path(__file__).resolve().parents[2] / "broker" / "templates"
ALL_TEMPLATES = sorted(str(path.relative_to(TEMPLATES)) for path in TEMPLATES.rglob("*.html"))
HOSTILE = '<b>"O\'Neil" & co</b> 100%'


def _extension_environment(language: str, **options: Any) -> Environment:
    """The environment the pages used before: every ``_()`` through the i18n extension at render time."""
    environment = Environment(extensions=["jinja2.ext.i18n"], **options)
    environment.install_gettext_translations(i18n.translations(language), newstyle=True)  # type: ignore[attr-defined]
    return environment


def _pair(language: str, **options: Any) -> tuple[Environment, Environment]:
    pages = Pages("vi", secure_cookies=False)
    translated = pages._environments[language]
    reference = _extension_environment(
        language,
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        **options,
    )
    reference.filters.update(translated.filters)
    if options:
        translated = TranslatedEnvironment(
            i18n.translations(language),
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]),
            **options,
        )
        translated.filters.update(reference.filters)
    return reference, translated


def _candidate(account_id: int, created: datetime | None) -> SimpleNamespace:
    return SimpleNamespace(account_id=account_id, source_name=HOSTILE, username=HOSTILE, created_at=created)


def _page_contexts() -> list[dict[str, Any]]:
    urls = {
        name: f"/login/x?flow={HOSTILE}"
        for name in (
            "login_url",
            "vneid_start_url",
            "password_url",
            "choose_url",
            "choose_page_url",
            "confirm_url",
            "later_url",
            "continue_url",
            "cancel_url",
        )
    }
    rich = {
        **urls,
        "flow_id": HOSTILE,
        "client_name": HOSTILE,
        "client_id": HOSTILE,
        "state": HOSTILE,
        "csrf": HOSTILE,
        "post_logout_redirect_uri": HOSTILE,
        "reason": HOSTILE,
        "citizen_cutoff": "1/7/2025",
        "upstreams": [("vneid", HOSTILE), ("other", "Khác")],
        "candidates": [_candidate(1, datetime(2024, 1, 2, tzinfo=UTC)), _candidate(2, None)],
        "kept": [_candidate(1, datetime(2024, 1, 2, tzinfo=UTC))],
        "merged": [_candidate(2, None)],
        "keep": 1,
        "reminder": True,
    }
    kinds = ["invalid_request", "flow", "upstream", "logout", "unavailable", "refused", "not_found"]
    return [
        {},
        rich,
        *({**rich, "kind": kind} for kind in kinds),
        {"kind": "upstream", "reason": None, "flow_id": None, "citizen_cutoff": None, "upstreams": []},
    ]


def _render(environment: Environment, template: str, context: dict[str, Any], language: str) -> str:
    return environment.get_template(template).render(
        language=language,
        lang_href=lambda target: f"?flow={HOSTILE}&lang={target}",
        lang_query=lambda target: f"lang={target}",
        static_url="/static/broker.css",
        **context,
    )


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_page_renders_as_the_extension_rendered_it(language: str) -> None:
    reference, translated = _pair(language)
    compared = 0
    for template in ALL_TEMPLATES:
        if template.startswith("console/"):
            continue  # their objects are the console's; below with chainable undefined values
        for context in _page_contexts():
            before = _render(reference, template, context, language)
            assert _render(translated, template, context, language) == before, (template, context)
            compared += 1
    assert compared > 100


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_template_renders_as_the_extension_rendered_it_with_any_values(language: str) -> None:
    """The console's templates too: every name undefined, every attribute of it undefined as well."""
    reference, translated = _pair(language, undefined=ChainableUndefined)
    for template in ALL_TEMPLATES:
        chart = SimpleNamespace(width=300, height=100, bars=[], first_day=None, last_day=None, maximum=0)
        figures = SimpleNamespace(
            citizens_not_cleaned=1,
            citizens_without_number=2,
            projected_date=datetime(2026, 1, 2, tzinfo=UTC),
            units=[],
            generated_at=datetime(2025, 1, 2, tzinfo=UTC),
        )
        board = (figures, chart)
        for context in (
            {"board": board, "form": {}},
            {
                "board": board,
                "form": {"account_type": "foreigner"},
                "officer": HOSTILE,
                "may_review": True,
                "may_create": True,
                "error": HOSTILE,
            },
        ):
            before = _render(reference, template, context, language)
            assert _render(translated, template, context, language) == before, (template, context)


def test_the_english_pages_are_translated_and_the_messages_compiled_in() -> None:
    pages = Pages("vi", secure_cookies=False)
    source = (TEMPLATES / "login.html").read_text(encoding="utf-8")
    english = pages._environments["en"].compile(source, "login.html", raw=True)
    vietnamese = pages._environments["vi"].compile(source, "login.html", raw=True)
    # The message itself is in the compiled code; no gettext call is left for a constant message.
    assert "Đăng nhập bằng VNeID" in vietnamese and "Đăng nhập bằng VNeID" not in english
    assert "'_'" not in english and "'gettext'" not in english
    rendered = _render(pages._environments["en"], "login.html", _page_contexts()[1], "en")
    assert "Đăng nhập bằng VNeID" not in rendered and '<html lang="en">' in rendered


class _Catalog(NullTranslations):
    def gettext(self, message: str) -> str:
        return {"a %(x)s": "<em>%(x)s</em> 100%% b", "plain": "<i>50%%</i>"}.get(message, message)

    ugettext = gettext


@pytest.mark.parametrize("autoescape", [True, False])
@pytest.mark.parametrize(
    "source",
    [
        '{{ _("plain") }}|{{ _("a %(x)s", x=value) }}|{{ gettext("plain") }}',
        '{{ _("plain") ~ value }}{{ _("a %(x)s", x=value)|upper }}{% autoescape false %}{{ _("plain") }}{% endautoescape %}',
        "{% trans %}plain{% endtrans %}{% trans x=value %}a {{ x }}{% endtrans %}",
        '{{ _("unknown %% message") }}{{ _(value) }}{{ _("a %(x)s", **{"x": value}) }}',
        # A template that rebinds the name keeps the calls as they were.
        '{% set _ = gettext %}{{ _("plain") }}',
        '{% macro m(gettext) %}{{ gettext("plain") }}{% endmacro %}{{ m(gettext) }}',
    ],
)
def test_formatting_escaping_and_rebinding_as_the_extension(source: str, autoescape: bool) -> None:
    reference = Environment(extensions=["jinja2.ext.i18n"], autoescape=autoescape)
    reference.install_gettext_translations(_Catalog(), newstyle=True)  # type: ignore[attr-defined]
    translated = TranslatedEnvironment(_Catalog(), autoescape=autoescape)
    value = '<b>"x" & 1</b>'
    assert translated.from_string(source).render(value=value) == reference.from_string(source).render(
        value=value
    )


def test_a_message_that_cannot_be_formatted_fails_at_render_as_before() -> None:
    for environment in (_extension_environment("vi"), TranslatedEnvironment(NullTranslations())):
        template = environment.from_string('{{ _("100%") }}')
        with pytest.raises(ValueError):
            template.render()


@pytest.mark.parametrize(
    ("settings", "reloads"),
    [
        ({}, True),  # development: a template edited on disk shows at the next page
        ({"template_auto_reload": False}, False),
        (
            {
                "environment": "production",
                "secret_key": "x" * 40,
                "issuer": "https://sso.example",
                "upstreams": [
                    {"id": "a", "issuer": "https://a.example", "client_id": "b", "client_secret": "s"}
                ],
            },
            False,  # production: no stat() of every template on every page
        ),
    ],
)
def test_templates_are_re_read_from_disk_in_development_only(settings: dict[str, Any], reloads: bool) -> None:
    from broker.app import create_app
    from broker.settings import Settings

    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:", **settings))
    assert {environment.auto_reload for environment in app.state.pages._environments.values()} == {reloads}
