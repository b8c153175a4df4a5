"""All dependency injection of the routes, in one place."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from mock_vneid.context import MockContext


def get_context(request: Request) -> MockContext:
    return cast(MockContext, request.app.state.mock)


ContextDep = Annotated[MockContext, Depends(get_context)]
