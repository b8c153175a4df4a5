"""Languages of the pages: Vietnamese first (the templates are written in it), English available.

Catalogs are gettext ``.po`` files read with Babel at start-up, so no compile step is needed.
"""

from __future__ import annotations

from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
_LOCALES = Path(__file__).parent / "locales"


@cache
def translations(language: str) -> NullTranslations:
    catalog_file = _LOCALES / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT_LANGUAGE or not catalog_file.exists():
        return NullTranslations()
    with catalog_file.open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def choose(
    requested: str | None, remembered: str | None, default: str = DEFAULT_LANGUAGE, hinted: str | None = None
) -> str:
    """An explicit ``?lang=`` wins, then the remembered cookie (the person's own choice), then the relying
    party's hint (``from_ui_locales``), then the default."""
    for candidate in (requested, remembered, hinted):
        if candidate in LANGUAGES:
            return candidate
    return default


def from_ui_locales(ui_locales: str | None) -> str | None:
    """The first language of an OIDC ``ui_locales`` (OIDC Core §3.1.2.1: BCP 47 tags, space-separated,
    most preferred first) that the pages speak: ``fr-CA en-GB vi`` gives ``en``. None when there is none,
    which is no error (the specification says so)."""
    for tag in (ui_locales or "").split():
        language = tag.split("-", 1)[0].lower()
        if language in LANGUAGES:
            return language
    return None
