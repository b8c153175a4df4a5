"""Usernames that look the same are one key: for finding the account and for the brute-force lockout."""

from __future__ import annotations

import pytest

from broker.domain.usernames import username_key


@pytest.mark.parametrize(
    "variant",
    [
        "binh.tran@example.vn",
        "BINH.TRAN@EXAMPLE.VN",
        "Binh.Tran@Example.VN",
        "  binh.tran@example.vn\t",
        "\u00a0binh.tran@example.vn\u3000",  # no-break and ideographic spaces
        "ｂｉｎｈ.ｔｒａｎ＠ｅｘａｍｐｌｅ.ｖｎ",  # fullwidth forms
        "binh.tr\u0430n@ex\u0430mple.vn",  # Cyrillic а
        "bin\u04bb.tran@\u0435xample.vn",  # Cyrillic һ and е
        "b\u0456nh.tran@example.vn",  # Cyrillic і
        "BΙΝΗ.TRΑΝ@ΕΧΑΜΡLΕ.VN",  # Greek capitals in place of I, N, H, A, E, X, M, P
        "BІNН.ТRАN@ЕХАМРLЕ.VN",  # Cyrillic capitals
        "bi\u200bnh.tran@example.vn",  # zero-width space
        "binh\u200d.tran\u2060@example.vn\ufeff",  # zero-width joiner, word joiner, BOM
        "\u202ebinh.tran@example.vn",  # bidi override
        "binh\u00ad.tran@example.vn",  # soft hyphen
        "𝐛𝐢𝐧𝐡.𝐭𝐫𝐚𝐧@𝐞𝐱𝐚𝐦𝐩𝐥𝐞.𝐯𝐧",  # mathematical bold
    ],
)
def test_look_alike_width_and_case_variants_give_one_key(variant: str) -> None:
    assert username_key(variant) == "binh.tran@example.vn"


@pytest.mark.parametrize(
    "variant", ["012345678", "０１２３４５６７８", " 012345678 ", "012\u200b345678", "012345678\x00"]
)
def test_identity_card_numbers_as_usernames(variant: str) -> None:
    assert username_key(variant) == "012345678"


def test_vietnamese_letters_keep_their_marks_whatever_the_encoding_or_case() -> None:
    composed, decomposed = "Nguyễn", "Nguye\u0302\u0303n"
    assert username_key(composed) == username_key(decomposed) == username_key("NGUYỄN") == "nguyễn"
    assert username_key("nguyen") != username_key("nguyễn")


def test_distinct_usernames_stay_distinct() -> None:
    # Digits are never folded into letters: CMND numbers and e-mail addresses must not share keys.
    keys = {
        username_key(name) for name in ("O12345678", "012345678", "l2345678", "12345678", "rn.an", "m.an")
    }
    assert len(keys) == 6


def test_the_key_is_stable_when_applied_twice() -> None:
    for name in ("BΙΝΗ.TRΑΝ", "Straße", "İstanbul", "ＡＢＣ"):
        assert username_key(username_key(name)) == username_key(name)


def test_invisible_only_usernames_give_an_empty_key() -> None:
    assert username_key("\u200b\u200c\ufeff ") == ""
