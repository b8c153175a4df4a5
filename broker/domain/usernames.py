"""The key under which a legacy username is looked up and locked out.

Variants a person cannot tell apart on screen must count against the same lockout (SECURITY.md: "Unicode
look-alike and case variants of usernames"), so the key folds them together:

1. NFKC, which also turns fullwidth forms (``０１２``, ``ａｎ``) and mathematical letters into ASCII;
2. default-ignorable characters (zero-width spaces and joiners, bidi marks, variation selectors, the BOM,
   the soft hyphen) and control characters are dropped: they are invisible;
3. Cyrillic and Greek letters drawn like Latin ones are mapped to those Latin letters;
4. casefold, NFKC again (casefolding can leave decomposed text), and surrounding whitespace stripped.

Why a small table and not the full Unicode TR39 skeleton: no maintained Python library computes TR39
skeletons (confusable-homoglyphs only detects, without a skeleton; PyICU needs ICU built from source on
every machine). The full skeleton would also fold ``0``/``O`` and ``1``/``l``/``I`` and ``rn``/``m``,
which would put distinct legacy usernames such as CMND numbers and e-mail addresses under one key. The
table below covers the cross-script homoglyphs that matter for Latin-script usernames: single Cyrillic
and Greek letters from Unicode's confusables.txt (TR39), each mapped to the ASCII letter a reader sees
(where TR39's prototype is itself non-ASCII, such as κ → ĸ or χ → ꭓ, or folds I into l, we keep the
ASCII letter so that the key stays consistent with casefolded Latin). A key is for matching only.
"""

from __future__ import annotations

import unicodedata

# Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt): invisible by definition.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)

# Case matters here: Cyrillic "В" looks like Latin "B" but its small "в" does not look like "b", so the
# mapping runs before casefolding, with upper and lower case listed separately.
_LOOKALIKES = str.maketrans(
    {
        # Cyrillic capitals
        "А": "A", "В": "B", "Е": "E", "З": "3", "Ѕ": "S", "І": "I", "Ј": "J", "К": "K", "М": "M",
        "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ү": "Y", "Һ": "h",
        "Ӏ": "l", "Ԁ": "d", "Ԛ": "Q", "Ԝ": "W",
        # Cyrillic small letters
        "а": "a", "е": "e", "і": "i", "ј": "j", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x",
        "ѕ": "s", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "i", "ү": "y",
        # Greek capitals
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
        "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
        # Greek small letters
        "α": "a", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "υ": "u", "χ": "x", "γ": "y",
        # Latin letters outside ASCII that TR39 maps to ASCII ones
        "ı": "i", "ȷ": "j", "ɡ": "g", "ɑ": "a", "ʏ": "y",
    }
)  # fmt: skip


def _ignorable(character: str) -> bool:
    code = ord(character)
    if unicodedata.category(character) == "Cc":
        return True
    return any(low <= code <= high for low, high in _DEFAULT_IGNORABLE)


def username_key(username: str) -> str:
    """The lookup and lockout key of ``username``: equal for look-alike, width and case variants."""
    text = unicodedata.normalize("NFKC", username)
    text = "".join(character for character in text if not _ignorable(character))
    text = text.translate(_LOOKALIKES).casefold()
    return unicodedata.normalize("NFKC", text).strip()
