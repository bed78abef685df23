"""Expected failures, each with an HTTP status and a machine-readable code.

    AppError
    ├── Unauthorized            401 unauthorized
    ├── NotFound                404 not_found
    │   └── MemberNotFound      404 member_not_found
    ├── Conflict                409 conflict
    │   ├── IdempotencyConflict 409 idempotency_conflict
    │   └── InsufficientPoints  409 insufficient_points
    ├── InvalidRequest          400 invalid_request
    │   └── InvalidPayload      400 invalid_payload
    └── PayloadTooLarge         413 payload_too_large

Rendered by one handler as ``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations


class AppError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class MemberNotFound(NotFound):
    code = "member_not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


class InsufficientPoints(Conflict):
    code = "insufficient_points"


class InvalidRequest(AppError):
    status_code = 400
    code = "invalid_request"


class InvalidPayload(InvalidRequest):
    code = "invalid_payload"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"
