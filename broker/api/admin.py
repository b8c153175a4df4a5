"""The admin API: accounts created at the one-stop desk, by an officer holding a broker access token."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from broker.admin import accounts
from broker.admin.account_request import InvalidBody
from broker.api.deps import RegistryDep
from broker.errors import OAuthError, StoreUnavailable
from broker.login import bearer
from broker.store.tables import Account

router = APIRouter(tags=["admin"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_NOT_JSON = object()  # a body that is not JSON at all; the use case refuses it, after the role check

_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["account_type"],
                "properties": {
                    "account_type": {"type": "string", "enum": ["citizen", "organisation", "foreigner"]},
                    "full_name": {"type": "string", "description": "citizen, foreigner: required"},
                    "birth_date": {
                        "type": "string",
                        "format": "date",
                        "description": "citizen, foreigner: required",
                    },
                    "gender": {
                        "type": "string",
                        "enum": ["male", "female"],
                        "description": "citizen, foreigner: required",
                    },
                    "identification_number": {
                        "type": "string",
                        "pattern": "^[0-9]{12}$",
                        "description": "CCCD; optional",
                    },
                    "org_name": {"type": "string", "description": "organisation: required"},
                    "tax_code": {
                        "type": "string",
                        "pattern": "^[0-9]{10}(-?[0-9]{3})?$",
                        "description": "organisation: required",
                    },
                    "unit_code": {"type": "string", "description": "optional"},
                },
            }
        }
    },
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"description": "created: `sub`, `account_type` and the stored fields"},
    400: {"description": "`invalid_request`, with `fields`: one message per field in error"},
    401: {"description": "no or invalid bearer token (RFC 6750 challenge in WWW-Authenticate)"},
    403: {"description": "`forbidden` with `reason`: `role_required` or `officer_citizen_creation_disabled`"},
    409: {"description": "`conflict`: an account with that identification number or tax code exists"},
}


@router.post(
    "/admin/accounts", status_code=201, openapi_extra={"requestBody": _REQUEST_BODY}, responses=_RESPONSES
)
async def create_account(request: Request, registry: RegistryDep) -> JSONResponse:
    """Creates an account at the one-stop desk; needs the `one_stop_officer` role.

    Letter 3701/VPCP-KSTT: no citizen accounts from 15/6/2024 (a setting); organisation and foreigner
    accounts still."""
    try:
        context = await bearer.authenticate_bearer(registry, request.headers.get("authorization"))
        actor = accounts.Actor(context.account.sub, context.roles, context.record.client_id)
        account = await accounts.create(registry, actor, _json(await request.body(), request))
    except StoreUnavailable:
        return JSONResponse({"error": "temporarily_unavailable"}, status_code=503, headers=NO_STORE)
    except bearer.MissingToken:
        return JSONResponse({}, status_code=401, headers={**NO_STORE, "WWW-Authenticate": bearer.challenge()})
    except OAuthError as error:
        headers = {**NO_STORE, "WWW-Authenticate": bearer.challenge(error)}
        return JSONResponse(error.body(), status_code=error.status_code, headers=headers)
    except accounts.CreationRefused as refusal:
        return _refused(refusal)
    except InvalidBody as invalid:
        body = {"error": "invalid_request", "error_description": str(invalid), "fields": invalid.fields}
        return JSONResponse(body, status_code=400, headers=NO_STORE)
    return JSONResponse(_created(account), status_code=201, headers=NO_STORE)


def _json(raw: bytes, request: Request) -> object:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        return _NOT_JSON
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return _NOT_JSON


def _refused(refusal: accounts.CreationRefused) -> JSONResponse:
    if refusal.reason == accounts.ACCOUNT_EXISTS:
        return JSONResponse(
            {"error": "conflict", "reason": refusal.reason}, status_code=409, headers=NO_STORE
        )
    body: dict[str, Any] = {"error": "forbidden", "reason": refusal.reason}
    if refusal.message:
        # Vietnamese first, for the officer to read out; both languages also apart for a client's screen.
        body["message"] = f"{refusal.message['vi']}\n\n{refusal.message['en']}"
        body["messages"] = refusal.message
    return JSONResponse(body, status_code=403, headers=NO_STORE)


def _created(account: Account) -> dict[str, Any]:
    fields = {
        "sub": account.sub,
        "account_type": account.account_type,
        "status": account.status,
        "name": account.name,
        "birthdate": account.birthdate.isoformat() if account.birthdate else None,
        "gender": account.gender,
        "identification_number": account.identification_number,
        "org_name": account.org_name,
        "tax_code": account.tax_code,
        "unit_code": account.unit_code,
        "created_at": account.created_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    return {name: value for name, value in fields.items() if value is not None}


# ---- issue 9: the clean-up report ----------------------------------------------------------------------

REPORT_ROLES = frozenset({"auditor", "ops_admin"})


@router.get(
    "/admin/reports/cleanup",
    responses={
        200: {"description": "the report as `broker report cleanup --format json` prints it"},
        400: {"description": "`invalid_request`: `by` or `as_of` malformed"},
        401: {"description": "no or invalid bearer token (RFC 6750 challenge in WWW-Authenticate)"},
        403: {"description": "`forbidden` with `reason` `role_required`: auditor or ops_admin"},
    },
)
async def cleanup_report(
    request: Request, registry: RegistryDep, by: str = "commune", as_of: str | None = None
) -> JSONResponse:
    """The province's clean-up report (issue 9): per unit and account type, with totals and the roadmap;
    for the `auditor` and `ops_admin` roles."""
    from datetime import date

    from broker.admin import reports
    from broker.domain.units import Level

    try:
        context = await bearer.authenticate_bearer(registry, request.headers.get("authorization"))
        if not context.roles & REPORT_ROLES:
            return JSONResponse(
                {"error": "forbidden", "reason": "role_required"}, status_code=403, headers=NO_STORE
            )
        try:
            level = Level(by)
            instant = reports.end_of_day(date.fromisoformat(as_of)) if as_of else None
        except ValueError:
            body = {
                "error": "invalid_request",
                "error_description": "by: province, district or commune; as_of: YYYY-MM-DD",
            }
            return JSONResponse(body, status_code=400, headers=NO_STORE)
        report = await reports.cleanup_report(registry, level, instant)
        series = await reports.trend(registry, level)
    except StoreUnavailable:
        return JSONResponse({"error": "temporarily_unavailable"}, status_code=503, headers=NO_STORE)
    except bearer.MissingToken:
        return JSONResponse({}, status_code=401, headers={**NO_STORE, "WWW-Authenticate": bearer.challenge()})
    except OAuthError as error:
        headers = {**NO_STORE, "WWW-Authenticate": bearer.challenge(error)}
        return JSONResponse(error.body(), status_code=error.status_code, headers=headers)
    return JSONResponse({**report.to_json(), "roadmap": reports.roadmap(series)}, headers=NO_STORE)
