"""The token endpoints' JSON answers, serialised by pydantic-core (issue 7).

Starlette's ``JSONResponse`` renders through ``json.dumps`` with four options, which builds an encoder
at every call: about 7 µs for a token answer on the bench's machine, against 1.3 µs here for the same
compact UTF-8 text (``bench/README.md``, twenty-second round). pydantic-core is already the settings'
and FastAPI's own dependency."""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json
from starlette.responses import JSONResponse


class JsonAnswer(JSONResponse):
    """A ``JSONResponse`` of a token, introspection or UserInfo answer: compact, UTF-8, keys in order."""

    def render(self, content: Any) -> bytes:
        # No answer holds a float; were one NaN, it would be written as null, never as bare NaN.
        return to_json(content, inf_nan_mode="null")
