"""A login flow's rows built without its model (``core_rows.model_row``, as ``flows.add_alone`` builds them)
are the rows the model gives (``row_of``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from broker.domain.login_flow import FlowState
from broker.store.core_rows import model_row
from broker.store.tables import LoginFlow, LoginFlowRequirement
from broker.store.types import row_of

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
FLOW = {
    "id": "f" * 43,
    "browser_hash": "b" * 64,
    "state": FlowState.STARTED,
    "client_id": "client",
    "redirect_uri": "https://rp.example/cb",
    "scope": "openid profile",
    "rp_state": None,
    "nonce": "n",
    "code_challenge": "c" * 43,
    "prompt": None,
    "created_at": NOW,
    "expires_at": NOW,
}


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (LoginFlow, FLOW),
        (LoginFlow, {**FLOW, "rp_state": "s", "prompt": "consent login", "amr": ["pwd"]}),
        (LoginFlow, {"id": "only"}),
        (LoginFlowRequirement, {"flow_id": "f", "min_level": 2, "force_login": True, "prior_sid": "sid"}),
        (LoginFlowRequirement, {"flow_id": "f", "min_level": 1, "force_login": False, "prior_sid": None}),
        (LoginFlowRequirement, {"flow_id": "f"}),
    ],
)
def test_a_new_row_is_the_models_row(model: Any, values: dict[str, Any]) -> None:
    assert model_row(model, **values) == row_of(model(**values))


def test_new_rows_share_no_default_list() -> None:
    first, second = model_row(LoginFlow, **FLOW), model_row(LoginFlow, **FLOW)
    first["amr"].append("pwd")
    assert second["amr"] == [] and second["candidate_account_ids"] == []


def test_a_value_that_is_no_column_is_refused() -> None:
    with pytest.raises(TypeError, match="redirect_uris"):
        model_row(LoginFlow, **FLOW, redirect_uris=["x"])
