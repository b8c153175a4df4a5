"""Staff roles: granted to, revoked from and listed on broker accounts, every change audited.

Staff are people with VNeID like everyone else, so a role is granted only to a citizen account linked to
a VNeID identity: a role must never be reachable by a legacy password. Audit entries name the account by
its ``sub``; an identification number used to find it is recorded masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from broker.domain.accounts import AccountType
from broker.domain.identity_numbers import is_cccd, mask
from broker.errors import StoreConflict
from broker.registry import Registry
from broker.store import accounts, audit, directory, roles
from broker.store.database import Session
from broker.store.tables import Account, AccountRole


class Role(StrEnum):
    OPS_ADMIN = "ops_admin"
    ONE_STOP_OFFICER = "one_stop_officer"
    AUDITOR = "auditor"


KNOWN_ROLES = ", ".join(sorted(Role))


class RoleError(ValueError):
    """A refused role change; ``reason`` is the machine-readable code also written to the audit trail."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    """Which account: by its ``sub``, or by its 12-digit personal identification number."""

    sub: str | None = None
    identification_number: str | None = None

    def check(self) -> None:
        if (self.sub is None) == (self.identification_number is None):
            raise RoleError("invalid_target", "give exactly one of --sub and --identification-number")
        if self.identification_number is not None and not is_cccd(self.identification_number):
            raise RoleError("invalid_target", "--identification-number must be a 12-digit personal number")

    def audit_details(self) -> dict[str, str]:
        if self.identification_number is not None:
            return {
                "lookup": "identification_number",
                "identification_number": mask(self.identification_number),
            }
        return {"lookup": "sub"}


@dataclass(frozen=True)
class RoleChange:
    sub: str
    role: str
    changed: bool  # False when the account already had (grant) or did not have (revoke) the role


@dataclass(frozen=True)
class RoleHolder:
    sub: str
    role: str
    granted_by: str
    granted_at: datetime


async def grant(registry: Registry, *, actor: str, role: str, target: Target) -> RoleChange:
    try:
        return await _change(registry, "role.grant", actor, role, target)
    except StoreConflict:
        # A concurrent grant of the same role won the unique constraint; run again to see it held.
        return await _change(registry, "role.grant", actor, role, target)


async def revoke(registry: Registry, *, actor: str, role: str, target: Target) -> RoleChange:
    return await _change(registry, "role.revoke", actor, role, target)


async def holders(registry: Registry, sub: str | None = None) -> list[RoleHolder]:
    async with registry.db.read() as session:
        account_id = None
        if sub is not None:
            account = await accounts.get_by_sub_or_alias(session, sub)
            if account is None:
                return []
            account_id = account.id
        rows = await directory.role_holders(session, account_id)
    return [RoleHolder(holder, row.role, row.granted_by, row.granted_at) for holder, row in rows]


async def _change(registry: Registry, action: str, actor: str, role: str, target: Target) -> RoleChange:
    target.check()
    now = registry.clock()
    details = {"role": role[:40], **target.audit_details()}
    async with registry.db.transaction() as session:
        account, missing = await _find(session, target)
        refusal = _unknown_role(role) or missing
        if refusal is None and action == "role.grant" and not await _is_vneid_person(session, account):
            refusal = RoleError(
                "not_a_vneid_person",
                "roles go only to citizen accounts linked to VNeID (log in with VNeID once)",
            )
        sub = account.sub if account is not None else None
        if refusal is None:
            assert account is not None and account.id is not None and sub is not None
            changed = await _apply(session, action, account.id, role, actor, now)
            outcome, reason = ("allowed" if changed else "unchanged"), None
        else:
            changed, outcome, reason = False, "refused", refusal.reason
        await audit.append(
            session,
            at=now,
            actor=actor,
            action=action,
            outcome=outcome,
            reason=reason,
            sub=sub,
            details=details,
        )
    # Raised after the block: the refusal's audit entry is committed, not rolled back with it.
    if refusal is not None:
        raise refusal
    assert sub is not None
    return RoleChange(sub, role, changed)


async def _find(session: Session, target: Target) -> tuple[Account | None, RoleError | None]:
    if target.sub is not None:
        # A merged-away sub stands for the surviving account: that is where the person's roles live.
        account = await accounts.get_by_sub_or_alias(session, target.sub)
    else:
        assert target.identification_number is not None
        found = await directory.surviving_by_identification_number(session, target.identification_number)
        if len(found) > 1:
            return None, RoleError(
                "ambiguous_account", "several accounts carry this number; name one with --sub"
            )
        account = found[0] if found else None
    if account is None:
        return None, RoleError("unknown_account", "no account found for the given --sub or number")
    return account, None


def _unknown_role(role: str) -> RoleError | None:
    if role in set(Role):
        return None
    return RoleError("unknown_role", f"unknown role {role!r}; known roles: {KNOWN_ROLES}")


async def _is_vneid_person(session: Session, account: Account | None) -> bool:
    assert account is not None and account.id is not None
    return account.account_type == AccountType.CITIZEN and await accounts.has_link(session, account.id)


async def _apply(
    session: Session, action: str, account_id: int, role: str, actor: str, now: datetime
) -> bool:
    held = role in await roles.of_account(session, account_id)
    if action == "role.revoke":
        return held and await roles.remove(session, account_id, role)
    if held:
        return False
    await roles.add(
        session, AccountRole(account_id=account_id, role=role, granted_by=actor[:100], granted_at=now)
    )
    return True
