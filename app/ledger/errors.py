"""The ledger's own refusals, rendered like every other :class:`app.errors.AppError`."""

from __future__ import annotations

from app.errors import Conflict, InvalidRequest, NotFound


class PointsOutOfRange(InvalidRequest):
    """A leg or a balance would leave the signed 64-bit range the database stores."""

    code = "points_out_of_range"


class HoldNotFound(NotFound):
    code = "hold_not_found"


class HoldSettled(Conflict):
    """A capture of a voided hold, or a void of a captured one."""

    code = "hold_settled"
