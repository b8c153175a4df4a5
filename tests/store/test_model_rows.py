"""The rows a login writes without building their model objects (``core_rows.model_row``, ``accounts.new``)
are the rows the models' constructors would have given: same columns, same values, same defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect

from broker.domain.accounts import AccountStatus, AccountType
from broker.store import accounts, core_rows
from broker.store.tables import Account, AuthorizationCode, SsoSession, UpstreamLink
from broker.store.types import row_of

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

CASES: list[tuple[Any, dict[str, Any]]] = [
    (
        AuthorizationCode,
        {
            "code_hash": "h" * 64,
            "grant_id": "g",
            "client_id": "rp",
            "redirect_uri": "https://rp.example/cb",
            "account_id": 7,
            "scope": "openid",
            "nonce": None,
            "code_challenge": "c" * 43,
            "auth_time": NOW,
            "acr": "urn:x",
            "amr": ["pwd"],
            "created_at": NOW,
            "expires_at": NOW + timedelta(minutes=1),
            "sid": "s",
        },
    ),
    (
        SsoSession,
        {
            "sid": "s",
            "cookie_hash": "k" * 64,
            "account_id": 7,
            "auth_time": NOW,
            "acr": "urn:x",
            "amr": [],
            "created_at": NOW,
            "expires_at": NOW,
            "upstream_id": None,
            "upstream_logout_uri": None,
        },
    ),
    (SsoSession, {"sid": "s", "cookie_hash": "k", "account_id": 7, "acr": "a", "created_at": NOW}),
    (
        UpstreamLink,
        {
            "account_id": 7,
            "issuer": "https://vneid",
            "subject": "sub",
            "level": 2,
            "created_at": NOW,
            "last_login_at": NOW,
        },
    ),
    (
        Account,
        {
            "sub": "abc",
            "account_type": AccountType.CITIZEN,
            "status": AccountStatus.ACTIVE,
            "created_at": NOW,
            "updated_at": NOW,
        },
    ),
]


@pytest.mark.parametrize(("model", "values"), CASES)
def test_a_row_built_without_its_object_is_the_row_of_its_object(model: Any, values: dict[str, Any]) -> None:
    expected = row_of(model(**values))
    row = core_rows.model_row(model, **values)
    assert row == expected
    assert list(row) == list(expected)  # in the table's column order: the same statement, built once


def test_a_row_refuses_what_is_not_a_column() -> None:
    with pytest.raises(TypeError, match="not_a_column"):
        core_rows.model_row(UpstreamLink, account_id=1, not_a_column=2)


def test_a_new_account_is_the_constructed_one_transient_and_without_history() -> None:
    values = CASES[-1][1]
    built, constructed = accounts.new(**values), Account(**values)
    assert row_of(built) == row_of(constructed)
    for column in Account.__table__.columns:  # type: ignore[attr-defined]
        assert getattr(built, column.key) == getattr(constructed, column.key)
    state = inspect(built)
    assert state.transient and not state.committed_state
    built.name = "Nguyễn Văn A"  # instrumented like any other: the change is history
    assert inspect(built).attrs.name.history.added == ["Nguyễn Văn A"]
