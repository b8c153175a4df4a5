"""All dependency injection of the routes, in one place."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from mock_vneid.context import MockContext


async def get_context(request: Request) -> MockContext:
    # async: FastAPI runs a plain function dependency in a worker thread, a thread hop per request.
    return cast(MockContext, request.app.state.mock)


ContextDep = Annotated[MockContext, Depends(get_context)]
