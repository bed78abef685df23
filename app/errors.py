"""Expected failures, each with an HTTP status and a machine-readable code.

    AppError
    ├── Unauthorized            401 unauthorized
    ├── NotFound                404 not_found
    │   ├── MemberNotFound      404 member_not_found
    │   ├── RewardNotFound      404 reward_not_found
    │   └── RedemptionNotFound  404 redemption_not_found
    ├── MethodNotAllowed        405 method_not_allowed
    ├── Conflict                409 conflict
    │   ├── IdempotencyConflict 409 idempotency_conflict
    │   ├── InsufficientPoints  409 insufficient_points
    │   └── RewardInactive      409 reward_inactive
    ├── InvalidRequest          400 invalid_request
    │   └── InvalidPayload      400 invalid_payload
    ├── PayloadTooLarge         413 payload_too_large
    ├── ValidationFailed        422 validation_error
    └── DatabaseBusy            503 database_busy

Rendered by one handler as ``{"error": {"code": ..., "message": ...}}``
(:mod:`app.api.errors`); ``example`` is the message the API documentation shows for each.
"""

from __future__ import annotations

from typing import ClassVar


class AppError(Exception):
    status_code = 500
    code = "internal_error"
    example: ClassVar[str] = "the request could not be completed; try again"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def headers(self) -> dict[str, str] | None:
        """Headers the answer carries (a 429's Retry-After)."""
        return None


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"
    example = "the admin API key is not valid"


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    example = "no such path: /api/v1/member/42"


class MemberNotFound(NotFound):
    code = "member_not_found"
    example = "no member with customer id '42' in this shop"


class RewardNotFound(NotFound):
    code = "reward_not_found"
    example = "no reward 4 in this shop"


class RedemptionNotFound(NotFound):
    code = "redemption_not_found"
    example = "no redemption 12 for this member"


class MethodNotAllowed(AppError):
    status_code = 405
    code = "method_not_allowed"
    example = "DELETE is not allowed on /api/v1/members/42"


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    example = "the request conflicts with the current state"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    example = "idempotency key 'manual:refund-1042' was already used for a different operation"


class InsufficientPoints(Conflict):
    code = "insufficient_points"
    example = "member 42 has 30 points available, 31 needed"


class RewardInactive(Conflict):
    code = "reward_inactive"
    example = "reward 4 is not active"


class InvalidRequest(AppError):
    status_code = 400
    code = "invalid_request"
    example = "an adjustment of 0 points changes nothing"


class InvalidPayload(InvalidRequest):
    code = "invalid_payload"
    example = "the body is not valid JSON"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"
    example = "the body is larger than 65536 bytes"


class ValidationFailed(AppError):
    status_code = 422
    code = "validation_error"
    example = "body.points: Input should be less than or equal to 1000000000000"


class DatabaseBusy(AppError):
    """Every database connection this process may open is in use: try again shortly."""

    status_code = 503
    code = "database_busy"
    example = "the database is busy; try again in a few seconds"
