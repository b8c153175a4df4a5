"""Test controls: mounted only when MOCK_VNEID_TEST_CONTROLS is true, so they are absent otherwise."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from mock_vneid.deps import ContextDep
from mock_vneid.faults import FaultPlan

router = APIRouter(prefix="/_test", tags=["test controls"])


class RotateKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")

    drop_old: bool = False


@router.post("/faults")
async def arm_faults(plan: FaultPlan, ctx: ContextDep) -> dict[str, Any]:
    ctx.faults.arm(plan)
    return ctx.faults.describe()


@router.get("/faults")
async def show_faults(ctx: ContextDep) -> dict[str, Any]:
    return ctx.faults.describe()


@router.delete("/faults", status_code=204)
async def clear_faults(ctx: ContextDep) -> Response:
    ctx.faults.clear()
    return Response(status_code=204)


@router.post("/rotate-keys")
async def rotate_keys(ctx: ContextDep, body: RotateKeys | None = None) -> dict[str, Any]:
    new_key = ctx.keys.rotate(drop_old=(body or RotateKeys()).drop_old)
    return {"active_kid": new_key.kid, "published_kids": [key.kid for key in ctx.keys.published()]}


@router.get("/upstream-logouts")
async def upstream_logouts(ctx: ContextDep) -> dict[str, int]:
    """How many sessions the portal's logoutUri ended (oauth2-userinfo mode)."""
    return {"count": ctx.store.upstream_logouts}
