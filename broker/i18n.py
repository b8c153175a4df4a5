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


def choose(requested: str | None, remembered: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """An explicit ``?lang=`` wins, then the remembered cookie, then the default."""
    for candidate in (requested, remembered):
        if candidate in LANGUAGES:
            return candidate
    return default
