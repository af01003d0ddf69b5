"""API errors in the design's one shape, and the JSON body parser that enforces the size limit.

    {"error": {"code": "invalid", "message": "files[0].path: …", "details": [{"field": …, "message": …}]}}

`details` entries carry whichever of `file`, `line`, `column`, `field` and `message` locate the
problem (a problem with one of the request's `files` names its `file`, the path as sent).
An unexpected exception is a 500 `server_error`, logged with its traceback and mailed to ADMINS
as Django does, and never dressed up as a client error; only the body is JSON, not Django's HTML
page (with DEBUG, Django's debug page as before).
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.signals import got_request_exception
from django.http import Http404
from django.utils.log import log_response
from rest_framework import exceptions, parsers, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

FILE_ITEM = re.compile(r"files\[(\d+)\]")  # a field of one of the request's `files`


class ApiError(exceptions.APIException):
    """An APIException with located details: raise ApiError("…", details=[{"file": …}])."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: list[dict] | None = None,
        status_code: int | None = None,
    ):
        super().__init__(message, code)
        self.code = code or self.default_code
        self.details = details or []
        if status_code is not None:
            self.status_code = status_code


class BadRequest(ApiError):
    status_code = 400
    default_code = "invalid"


class RequestTooLarge(ApiError):
    status_code = 413
    default_code = "request_too_large"

    def __init__(self) -> None:
        limit = settings.SLUICE_MAX_REQUEST_BYTES
        super().__init__(f"the request body is larger than {limit} bytes (SLUICE_MAX_REQUEST_BYTES)")


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, RequestDataTooBig):  # Django's own limit, should anything read request.body
        exc = RequestTooLarge()
    elif isinstance(exc, Http404):  # as DRF's handler does, but here so that the code is known
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return _server_error(exc, context.get("request"))
    if isinstance(exc, exceptions.ValidationError):
        request = context.get("request")
        data = request.data if request is not None else None  # parsed: validation came after it
        details = [_located(field, message, data) for field, message in _flatten(exc.detail)]
        first = details[0] if details else {"message": "invalid request"}
        message = f"{first['field']}: {first['message']}" if "field" in first else first["message"]
        if len(details) > 1:
            message += f" (and {len(details) - 1} more)"
        body = {"code": "invalid", "message": message, "details": details}
    else:
        detail = getattr(exc, "detail", None)
        code = getattr(exc, "code", None) or getattr(detail, "code", None) or "error"
        body = {"code": code, "message": str(detail or exc), "details": getattr(exc, "details", [])}
    response.data = {"error": body}
    return response


def _server_error(exc: Exception, request: Any) -> Response | None:
    """A bug: reported as Django reports it (the got_request_exception signal, the django.request
    log with the traceback, mailed to ADMINS), answered in the error shape."""
    if settings.DEBUG or settings.DEBUG_PROPAGATE_EXCEPTIONS or request is None:
        return None  # Django's debug page, or the exception itself
    django_request = request._request
    got_request_exception.send(sender=None, request=django_request)
    set_rollback()
    message = "internal server error: the server's log has the details"
    response = Response({"error": {"code": "server_error", "message": message, "details": []}}, status=500)
    log_response(
        "%s: %s", "Internal Server Error", django_request.path,
        response=response, request=django_request, exception=exc,
    )
    return response


def _located(field: str, message: str, data: Any) -> dict:
    """A detail entry; `files[i]…` also names the file, so that a client need not parse the message."""
    if not field:
        return {"message": message}
    match = FILE_ITEM.match(field)
    files = data.get("files") if isinstance(data, dict) else None
    if match and isinstance(files, list):
        index = int(match.group(1))
        item = files[index] if index < len(files) else None
        path = item.get("path") if isinstance(item, dict) else None
        if isinstance(path, str):
            return {"file": path, "field": field, "message": message}
    return {"field": field, "message": message}


def _flatten(detail: Any, prefix: str = "") -> list[tuple[str, str]]:
    """DRF's nested error structure → (dotted.field[index], message) pairs."""
    found: list[tuple[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key in ("non_field_errors", settings.REST_FRAMEWORK.get("NON_FIELD_ERRORS_KEY")):
                name = prefix
            elif isinstance(key, int):
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            found += _flatten(value, name)
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                found += _flatten(value, f"{prefix}[{index}]")  # many=True: one entry per item
            else:
                found.append((prefix, str(value)))
    else:
        found.append((prefix, str(detail)))
    return found


class JSONParser(parsers.JSONParser):
    """JSON only, at most SLUICE_MAX_REQUEST_BYTES, and parse errors located by line and column.

    DRF reads the body from the request stream, past Django's DATA_UPLOAD_MAX_MEMORY_SIZE
    check, so the limit is enforced here: on the declared length first, then on what is read
    (a chunked body declares none).
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        limit = settings.SLUICE_MAX_REQUEST_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise RequestTooLarge()
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise RequestTooLarge()
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError as exc:
            raise BadRequest(
                f"the request body is not UTF-8 (bad byte at offset {exc.start})",
                code="parse_error",
                details=[{"offset": exc.start}],
            ) from None
        except LookupError:  # a codec that is not a text encoding (charset=base64, rot13, zlib …)
            raise exceptions.UnsupportedMediaType(
                media_type, detail=f"charset {encoding} is not a text encoding: send the JSON as UTF-8"
            ) from None
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            raise BadRequest(
                f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                code="parse_error",
                details=[{"line": exc.lineno, "column": exc.colno}],
            ) from None
        except ValueError as exc:
            raise BadRequest(f"the request body is not valid JSON: {exc}", code="parse_error") from None
        except RecursionError:  # the decoder recurses per array/object: a client error, not a 500
            raise BadRequest("the request body is nested too deeply", code="parse_error") from None


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable: not_found, invalid, parse_error, …")
    message = serializers.CharField()
    details = serializers.ListField(
        child=serializers.DictField(),
        help_text="Where: whichever of file, line, column, offset, field and message apply.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
