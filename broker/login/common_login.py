"""The two common VNeID logins, each written as one statement without an ORM session (issue 7): a
returning citizen's, through the link an earlier login made, with nothing about them changed since; and a
first login on no legacy account (Case 1 of the letters: a new account, linked).

The callback's transaction (``vneid_callback``) decides these as it decides every login: it looks the
identity up, asks the policy, and writes the account and its link (or the link's last use), the SSO
session, the code, the flow's move and the audit rows, every write deferred into the one statement its
commit sends. The ORM session that carried them there, the account's object in it and the commit's
machinery cost more than the writes themselves (bench/README.md, fifteenth round). Here the same logins,
read by the same lookup, asked of the same policy and written as the same rows, go straight to that
statement (``Database.commit_writes``), its guards included: a flow that moved meanwhile refuses the login,
and a concurrent first login of the same person that linked first fails it (``StoreConflict``), which the
caller runs again and finds that login's account.

Anything else goes the whole transaction's way, with the lookup already read: a number on legacy accounts
or held by another upstream's account, an account frozen, disabled, merged or waiting for an officer,
data or a level that VNeID changed, a class or a unit to set, a session of this browser to renew or end, a
VNeID linked after a legacy password, a policy's refusal, and SQLite.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from broker.domain.accounts import AccountStatus, LoginMethod
from broker.domain.identity import VerifiedIdentity
from broker.domain.identity_numbers import mask
from broker.domain.login_flow import FlowState
from broker.errors import StoreGuardFailed
from broker.login import account_state, flow_guard, issue_code, sso, upstream_logout
from broker.login.link_account import completion, created_row, link_columns, new_account
from broker.login.outcomes import Redirect
from broker.registry import Registry
from broker.store import accounts, audit, cleanup, flows, grants, sessions
from broker.store.core_rows import Write
from broker.store.tables import Account, LegacyAccount, LoginFlow, LoginFlowRequirement

log = logging.getLogger(__name__)


async def log_in(
    registry: Registry,
    flow: LoginFlow,
    identity: VerifiedIdentity,
    requirement: LoginFlowRequirement | None,
    lookup: accounts.FirstLookup,
) -> Redirect | None:
    """The login, if it is one of the two common ones; else None, and nothing written. ``lookup``:
    ``accounts.first_lookup_alone``'s, for this identity."""
    if not registry.db.is_postgresql or flow.link_account_id is not None:
        return None
    if requirement is not None and requirement.prior_sid is not None:
        return None  # this browser's session to renew, or another person's to end
    if lookup.by_link is not None:
        return await _returning(registry, flow, identity, lookup.by_link)
    if lookup.holder is None and not lookup.matches and lookup.new_id is not None:
        return await _first(registry, flow, identity, lookup.new_id)
    return None


async def _returning(
    registry: Registry,
    flow: LoginFlow,
    identity: VerifiedIdentity,
    by_link: tuple[Account, int, LegacyAccount | None],
) -> Redirect | None:
    account, previous_level, oldest_legacy = by_link
    now = registry.clock()
    if (
        account.status != AccountStatus.ACTIVE
        or account.needs_review
        or (previous_level is not None and previous_level != identity.level)
        or completion(account, identity)
        or not cleanup.login_keeps_class(account, oldest_legacy, now)
    ):
        return None
    if not account_state.may_log_in_linked(registry, account, LoginMethod.VNEID, now).allowed:
        return None  # the transaction's way audits the policy's refusal
    touch = accounts.touch_link_write(identity.issuer, identity.subject, identity.level, now)
    return await _written(registry, flow, identity, account, now, [touch], [])


async def _first(
    registry: Registry, flow: LoginFlow, identity: VerifiedIdentity, new_id: int
) -> Redirect | None:
    now = registry.clock()
    units = (registry.settings.client_unit_codes.get(flow.client_id), identity.extra.get("unit_code"))
    account = new_account(identity, units, now, new_id)
    if not account_state.may_log_in_linked(registry, account, LoginMethod.VNEID, now).allowed:
        return None  # the transaction's way refuses it, with its audit row and page
    number = identity.identification_number
    created = accounts.linked_writes(account, new_id, number, now, **link_columns(identity, now))
    return await _written(
        registry, flow, identity, account, now, created, [created_row(now, account.sub, identity)]
    )


async def _written(
    registry: Registry,
    flow: LoginFlow,
    identity: VerifiedIdentity,
    account: Account,
    now: datetime,
    writes: list[Write],
    rows: list[dict[str, Any]],
) -> Redirect:
    """The login of ``account`` after ``writes`` (its account's) and the audit ``rows`` before its own:
    the flow authenticated and completed, the session opened, the code issued, in one statement."""
    assert account.id is not None
    authenticated = authenticated_by(account.id, identity)
    amr = authenticated["amr"]
    noted = upstream_logout.noted(registry, identity)
    opened, session = sso.new_session(registry, account.id, identity.auth_time, identity.acr, amr, noted, now)
    url, code = issue_code.new_code(registry, flow, opened.sid, now, authenticated)
    writes = [
        *writes,
        sessions.insert_write(**session),
        flows.move_write(
            flow.id, FlowState.COMPLETED, now, "flow_replayed", via=FlowState.AUTHENTICATED, **authenticated
        ),
        *grants.code_writes(registry.db.dialect_name, **code),
    ]
    try:
        await registry.db.commit_writes(
            writes, [*rows, login_row(now, account.sub, identity)], account.account_type
        )
    except StoreGuardFailed as guard:  # the flow moved meanwhile (a replay, a double submit), or expired
        raise flow_guard.refused(guard) from None
    registry.metrics.logins.labels("vneid", "success").inc()
    log.info("upstream login: account=%s level=%s", account.sub, identity.level)
    return Redirect(url, opened.cookie)


def authenticated_by(account_id: int, identity: VerifiedIdentity) -> dict[str, Any]:
    """The flow's columns that a VNeID login of ``account_id`` authenticates it with."""
    return {
        "account_id": account_id,
        "auth_time": identity.auth_time,
        "acr": identity.acr,
        "amr": list(identity.amr) or ["pwd"],
    }


def login_row(at: datetime, sub: str, identity: VerifiedIdentity) -> dict[str, Any]:
    """The audit row of an allowed VNeID login (``audit.row``'s), whichever way it is written."""
    return audit.row(
        at=at,
        actor=f"citizen:{sub}",
        action="login.vneid",
        outcome="allowed",
        sub=sub,
        details={
            "identification_number": mask(identity.identification_number),
            "level": identity.level,
            "upstream": identity.extra.get("upstream"),
        },
    )
