"""Domain errors to HTTP, in one place. Every error body is `{"status_code", "detail"}`."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import ResponseSpec
from pydantic import BaseModel

from application.views import InvalidCursor
from domain.errors import AnalyticsError, BrokerUnavailable, InvalidEvent, NotFound, StorageUnavailable

log = logging.getLogger(__name__)

_STATUS: list[tuple[type[Exception], int]] = [
    (NotFound, 404),
    (InvalidCursor, 422),
    (InvalidEvent, 422),
    (StorageUnavailable, 503),
    (BrokerUnavailable, 503),
]


def _json(status: int, detail: str, extra: object = None, headers: dict | None = None) -> Response:
    content: dict = {"status_code": status, "detail": detail}
    if extra:
        content["extra"] = extra
    return Response(content, status_code=status, media_type=MediaType.JSON, headers=headers)


def analytics_error(_: Request, error: AnalyticsError) -> Response:
    status = next((code for kind, code in _STATUS if isinstance(error, kind)), 500)
    return _json(status, str(error))


def validation_error(_: Request, error: ValidationException) -> Response:
    # Litestar answers 400 for invalid parameters; the contract says 422 with a detail.
    return _json(422, error.detail, error.extra)


def http_error(_: Request, error: HTTPException) -> Response:
    return _json(error.status_code, error.detail, error.extra, error.headers)


def unexpected_error(request: Request, error: Exception) -> Response:
    # Logged with its type and stack but not its message, which may quote a connection string
    # or a driver's echo of a secret; the body says nothing internal at all.
    log.error(
        "unexpected error",
        extra={
            "path": request.url.path,
            "error_type": f"{type(error).__module__}.{type(error).__qualname__}",
            "stack": "".join(traceback.format_tb(error.__traceback__))[-4000:],
        },
    )
    return _json(500, "internal server error")


class ErrorBody(BaseModel):
    status_code: int
    detail: str
    extra: Any = None


def _spec(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=ErrorBody, description=description)


# Documented on every /v1 route, so the OpenAPI schema tells the whole truth.
ERROR_RESPONSES = {
    401: _spec("no valid X-API-Key"),
    403: _spec("the key's role is too low"),
    404: _spec("not found"),
    413: _spec("request body over 1 MB"),
    422: _spec("invalid parameters or body"),
    429: _spec("rate limit exceeded; see Retry-After"),
    503: _spec("the database or the broker is unavailable"),
}

EXCEPTION_HANDLERS = {
    AnalyticsError: analytics_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
