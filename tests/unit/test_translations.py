"""Every sentence of every page exists in English too: "Vietnamese first, English available"."""

import re
from pathlib import Path

from babel.messages.pofile import read_po

BROKER = Path(__file__).resolve().parents[2] / "broker"


def test_every_template_message_has_an_english_translation() -> None:
    with (BROKER / "locales/en/LC_MESSAGES/messages.po").open("rb") as source:
        translated = {message.id for message in read_po(source) if message.id and message.string}
    missing = [
        (template.name, found)
        for template in sorted((BROKER / "templates").rglob("*.html"))
        # _("...") and _("... %(name)s ...", name=value) alike
        for found in re.findall(r'_\("((?:[^"\\]|\\.)*)"[,)]', template.read_text(encoding="utf-8"))
        if found not in translated
    ]
    assert missing == []
