"""The Shared Signals transmitter over HTTP (SSF 1.0): metadata, stream management, status, verification
and the poll endpoint (RFC 8936). Receivers authenticate with HTTP Basic as their client."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from broker.api.deps import RegistryDep
from broker.errors import InvalidClient, OAuthError, StoreUnavailable
from broker.login import ssf_poll, ssf_streams
from broker.oidc import ssf
from broker.registry import Registry
from broker.store.tables import Client

router = APIRouter(tags=["shared signals"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_AUTH = {"WWW-Authenticate": 'Basic realm="broker"'}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "the request cannot be parsed or is invalid"},
    401: {"description": "HTTP Basic client authentication failed or is missing"},
    404: {"description": "no stream with this `stream_id` for this receiver"},
    503: {"description": "the database is unavailable: try again"},
}
_JSON_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
}
_STREAM_ID = {
    "parameters": [{"name": "stream_id", "in": "query", "required": False, "schema": {"type": "string"}}]
}

Action = Callable[[Registry, Client], Awaitable[Any]]


async def _answer(request: Request, registry: Registry, action: Action, status_code: int = 200) -> Response:
    """Authenticates the receiver, runs the action and maps every error once, for the whole router."""
    try:
        client = await ssf_streams.receiver(
            registry, request.headers.get("authorization"), f"{registry.settings.issuer}{request.url.path}"
        )
        result = await action(registry, client)
    except StoreUnavailable:
        return JSONResponse({"error": "temporarily_unavailable"}, status_code=503, headers=NO_STORE)
    except InvalidClient as error:
        return JSONResponse(error.body(), status_code=401, headers=NO_STORE | _AUTH)
    except OAuthError as error:
        return JSONResponse(error.body(), status_code=error.status_code, headers=NO_STORE)
    except ssf.StreamError as error:
        return JSONResponse(error.body(), status_code=error.status_code, headers=NO_STORE)
    if status_code == 204:
        return Response(status_code=204, headers=NO_STORE)
    return JSONResponse(result, status_code=status_code, headers=NO_STORE)


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ssf.InvalidStreamRequest("the body is not JSON") from exc


@router.get("/.well-known/ssf-configuration", tags=["discovery"])
async def ssf_configuration(registry: RegistryDep) -> JSONResponse:
    """Transmitter configuration metadata (SSF 1.0 §7.1)."""
    return JSONResponse(
        ssf.metadata(registry.settings.issuer), headers={"Cache-Control": "public, max-age=3600"}
    )


@router.post(
    "/ssf/stream",
    status_code=201,
    openapi_extra=_JSON_BODY,
    responses=_ERRORS | {409: {"description": "the receiver already has its stream"}},
)
async def create_stream(request: Request, registry: RegistryDep) -> Response:
    """Creates the receiver's stream (SSF §8.1.1.1); no `delivery` means poll."""

    async def action(registry: Registry, client: Client) -> Any:
        return await ssf_streams.create(registry, client, await _json(request))

    return await _answer(request, registry, action, 201)


@router.get("/ssf/stream", openapi_extra=_STREAM_ID, responses=_ERRORS)
async def read_stream(request: Request, registry: RegistryDep) -> Response:
    """The stream's configuration, or the list of the receiver's streams without `stream_id` (§8.1.1.2)."""

    async def action(registry: Registry, client: Client) -> Any:
        return await ssf_streams.read(registry, client, request.query_params.get("stream_id"))

    return await _answer(request, registry, action)


@router.patch("/ssf/stream", openapi_extra=_JSON_BODY, responses=_ERRORS)
async def update_stream(request: Request, registry: RegistryDep) -> Response:
    """Changes the receiver-supplied fields present in the body (§8.1.1.3)."""

    async def action(registry: Registry, client: Client) -> Any:
        return await ssf_streams.update(registry, client, await _json(request), replace=False)

    return await _answer(request, registry, action)


@router.put("/ssf/stream", openapi_extra=_JSON_BODY, responses=_ERRORS)
async def replace_stream(request: Request, registry: RegistryDep) -> Response:
    """Replaces every receiver-supplied field; absent ones are deleted (§8.1.1.4)."""

    async def action(registry: Registry, client: Client) -> Any:
        return await ssf_streams.update(registry, client, await _json(request), replace=True)

    return await _answer(request, registry, action)


@router.delete("/ssf/stream", status_code=204, openapi_extra=_STREAM_ID, responses=_ERRORS)
async def delete_stream(request: Request, registry: RegistryDep) -> Response:
    """Deletes the stream and what is queued on it (§8.1.1.5)."""

    async def action(registry: Registry, client: Client) -> Any:
        await ssf_streams.delete(registry, client, request.query_params.get("stream_id"))

    return await _answer(request, registry, action, 204)


@router.get("/ssf/status", openapi_extra=_STREAM_ID, responses=_ERRORS)
async def read_status(request: Request, registry: RegistryDep) -> Response:
    """`enabled`, `paused` or `disabled` (§8.1.2.1)."""

    async def action(registry: Registry, client: Client) -> Any:
        return await ssf_streams.status(registry, client, request.query_params.get("stream_id"))

    return await _answer(request, registry, action)


@router.post("/ssf/status", openapi_extra=_JSON_BODY, responses=_ERRORS)
async def update_status(request: Request, registry: RegistryDep) -> Response:
    """Pauses (events held), disables (events dropped) or enables the stream (§8.1.2.2)."""

    async def action(registry: Registry, client: Client) -> Any:
        return await ssf_streams.set_status(registry, client, await _json(request))

    return await _answer(request, registry, action)


@router.post(
    "/ssf/verify",
    status_code=204,
    openapi_extra=_JSON_BODY,
    responses=_ERRORS | {429: {"description": "sooner than `min_verification_interval` after the last one"}},
)
async def verify_stream(request: Request, registry: RegistryDep) -> Response:
    """Queues a verification event echoing `state` (§8.1.4.2)."""

    async def action(registry: Registry, client: Client) -> Any:
        await ssf_streams.verify(registry, client, await _json(request))

    return await _answer(request, registry, action, 204)


@router.post("/ssf/poll/{stream_id}", openapi_extra=_JSON_BODY, responses=_ERRORS)
async def poll(stream_id: str, request: Request, registry: RegistryDep) -> Response:
    """Poll-based SET delivery (RFC 8936 §2.4): `ack`, `setErrs`, `maxEvents`, `returnImmediately`;
    answers `sets` (jti → SET) and `moreAvailable`."""

    async def action(registry: Registry, client: Client) -> Any:
        return await ssf_poll.poll(registry, client, stream_id, await _json(request))

    return await _answer(request, registry, action)
