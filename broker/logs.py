"""Logging that cannot leak, as plain text or one JSON object per line (``BROKER_LOG_FORMAT=json``).

Redaction happens in the formatter, on the finished text of every field, tracebacks included, so it
holds whatever logged the line (the broker, uvicorn, httpx, a library's exception message):
- any 9- or 12-digit run is masked like an identification number;
- query strings of URLs are cut (they carry codes and states);
- JWTs, ``Bearer``/``Basic`` credentials, long random tokens and ``password=``/``code=``-style pairs
  are replaced.
The request id and what the request is about (route template, client_id) come from context variables
that the request middleware sets, so every line written while serving a request carries them.
"""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from broker.domain.identity_numbers import mask

request_id: ContextVar[str | None] = ContextVar("broker_request_id", default=None)
request_fields: ContextVar[dict[str, str] | None] = ContextVar("broker_request_fields", default=None)

_NUMBER = re.compile(r"(?<!\d)(\d{12}|\d{9})(?!\d)")
# A query string after a URL path: "?name=value..." up to whitespace, a quote or a JSON escape.
_QUERY = re.compile(r"(?<=[\w/])\?[\w.~%+\-]+=[^\s\"'\\<>]*")
_JWT = re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*")
_AUTHORIZATION = re.compile(r"\b(Bearer|Basic)\s+[\w\-.~+/]+=*", re.IGNORECASE)
_SECRET_NAMES = (
    r"password|passwd|client_secret|secret|code_verifier|code|access_token|refresh_token|id_token"
    r"|token|logout_token|client_assertion|state|nonce|key_encryption_key"
)
_PAIR = re.compile(rf"(?i)\b((?:{_SECRET_NAMES})[\"']?\s*[:=]\s*[\"']?)([^\s\"'&,)}}\\]+)")
# 256-bit random values (codes, refresh tokens, flow ids) are 43 URL-safe characters.
_RANDOM = re.compile(r"(?<![\w-])[A-Za-z0-9_-]{40,}(?![\w-])")


def mask_numbers(text: str) -> str:
    return _NUMBER.sub(lambda match: mask(match.group(1)), text)


def redact(text: str) -> str:
    text = _JWT.sub("[jwt]", text)
    text = _AUTHORIZATION.sub(lambda match: f"{match.group(1)} [redacted]", text)
    text = _QUERY.sub("?…", text)
    text = _PAIR.sub(lambda match: f"{match.group(1)}[redacted]", text)
    text = _RANDOM.sub("[redacted]", text)
    return mask_numbers(text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    return value


def _redact_field(name: str, value: Any) -> Any:
    # A request id is there to be searched for: kept whole, unless it carries what looks like a number.
    if name == "request_id" and isinstance(value, str):
        return mask_numbers(value)
    return _redact_value(value)


class RequestContext(logging.Filter):
    """Stamps the request id and the request's fields on every record written while serving it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        for name, value in (request_fields.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class RedactingFormatter(logging.Formatter):
    """Plain text: the message and the traceback redacted; the record itself left as it was for others."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.msg, record.args, record.exc_text
        given = getattr(record, "request_id", None)
        try:
            record.msg, record.args = redact(record.getMessage()), None
            if record.exc_info and not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = redact(record.exc_text)
            setattr(record, "request_id", mask_numbers(given) if isinstance(given, str) else "-")  # noqa: B010
            return super().format(record)
        finally:
            record.msg, record.args, record.exc_text = saved
            setattr(record, "request_id", given)  # noqa: B010

    def formatStack(self, stack_info: str) -> str:
        return redact(super().formatStack(stack_info))


class RedactingJsonFormatter(JsonFormatter):
    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {key: _redact_field(key, value) for key, value in log_data.items() if value is not None}


def _json_formatter() -> logging.Formatter:
    return RedactingJsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
        rename_fields={"levelname": "level", "asctime": "time", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return _json_formatter()
    return RedactingFormatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")


def handler(log_format: str, stream: Any = None) -> logging.Handler:
    """A handler that redacts and carries the request context, for the root logger or a test's capture."""
    out = logging.StreamHandler(stream)
    out.setFormatter(formatter(log_format))
    out.addFilter(RequestContext())
    return out


# Libraries whose DEBUG lines are payloads (statements with their parameters, form fields, raw bytes):
# kept at INFO even when the broker runs at DEBUG, since no pattern can recognise every secret in them.
PAYLOAD_LOGGERS = ("aiosqlite", "asyncpg", "httpcore", "hpack", "multipart", "python_multipart")


def configure(level: str = "INFO", log_format: str = "text") -> None:
    root = logging.getLogger()
    root.handlers[:] = [handler(log_format)]
    root.setLevel(level.upper())
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    # Python warnings (deprecations of libraries) become log records too: with JSON logs, no plain line.
    logging.captureWarnings(True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
