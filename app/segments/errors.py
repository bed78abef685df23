"""The segments' expected failures, in the tree of app/errors.py."""

from __future__ import annotations

from app.errors import Conflict, NotFound


class SegmentNotFound(NotFound):
    code = "segment_not_found"
    example = "no segment 'vip' in this shop"


class SegmentInUse(Conflict):
    """Deleting a segment that the shop's program still names, or an RFM segment."""

    code = "segment_in_use"
    example = "segment 'vip' is named by campaign 'vip-double' of program v3: remove it there first"
