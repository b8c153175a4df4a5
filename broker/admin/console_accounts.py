"""Creating an account from the console's form: the same use case as ``POST /admin/accounts``
(broker.admin.accounts), so the policy decides the same way (no citizen accounts after the cut-off,
with its reason) and the audit trail records the officer's sub."""

from __future__ import annotations

from dataclasses import dataclass, field

from broker.admin import accounts
from broker.admin.account_request import InvalidBody
from broker.admin.console_auth import CLIENT_ID, Officer
from broker.admin.roles import Role
from broker.registry import Registry
from broker.store.tables import Account

FIELDS = (
    "account_type",
    "org_name",
    "tax_code",
    "full_name",
    "birth_date",
    "gender",
    "identification_number",
    "unit_code",
)


@dataclass(frozen=True)
class Refusal:
    reason: str
    message: dict[str, str] | None  # {"vi": ..., "en": ...} from the policy's explanation


@dataclass(frozen=True)
class CreationOutcome:
    created: Account | None = None
    refusal: Refusal | None = None
    invalid_fields: dict[str, str] = field(default_factory=dict)


def may_create(officer: Officer) -> bool:
    return Role.ONE_STOP_OFFICER in officer.roles


async def create(registry: Registry, officer: Officer, form: dict[str, str]) -> CreationOutcome:
    # Empty inputs are absent fields, as in the JSON API; unknown inputs are not passed on.
    body = {name: form[name].strip() for name in FIELDS if form.get(name, "").strip()}
    actor = accounts.Actor(officer.sub, officer.roles, CLIENT_ID)
    try:
        return CreationOutcome(created=await accounts.create(registry, actor, body))
    except accounts.CreationRefused as refused:
        return CreationOutcome(refusal=Refusal(refused.reason, refused.message))
    except InvalidBody as invalid:
        return CreationOutcome(invalid_fields=dict(invalid.fields))
