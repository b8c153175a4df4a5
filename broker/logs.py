"""Logging that cannot leak: query strings are cut from access logs (they carry codes and states), and
any 9- or 12-digit run is masked like an identification number, whatever logged it."""

from __future__ import annotations

import logging
import re

from broker.domain.identity_numbers import mask

_NUMBER = re.compile(r"(?<!\d)(\d{12}|\d{9})(?!\d)")
_QUERY = re.compile(r"\?[^\s\"]*")


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.name == "uvicorn.access":
            message = _QUERY.sub("?…", message)
        message = _NUMBER.sub(lambda match: mask(match.group(1)), message)
        record.msg, record.args = message, None
        return True


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
