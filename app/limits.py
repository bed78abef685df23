"""Sanity bounds on what enters Vafa, in one place (docs/architecture.md, "Bounds").

A platform never sends an order near these; a signed body past one is a bug or an attack, and
is refused when it is parsed (an amount, a length) or clamped when points are computed, so it
can never become points nor a row the database refuses.
"""

from __future__ import annotations

from datetime import UTC, datetime

# An amount, and an order's merchandise, in minor units: 10^15 cents is ten trillion dollars.
MAX_AMOUNT_MINOR = 10**15
# Points one order can carry, whatever the program's rate.
MAX_POINTS_PER_ORDER = 10**12
# Points one manual adjustment may add or remove.
MAX_ADJUSTMENT_POINTS = 10**12
# Units on one line of an order.
MAX_QUANTITY = 10**9

# Timestamps: a hold and an expiry are added to them, which must not overflow.
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(9000, 1, 1, tzinfo=UTC)

# Column sizes (app/program/models.py, app/members/models.py, app/ledger/models.py).
MAX_ID_LENGTH = 64  # order, customer, refund, line, product and variant ids
MAX_NAME_LENGTH = 64  # an order's display name ("#1001")
MAX_PERSON_NAME_LENGTH = 255  # a member's first and last name
MAX_EMAIL_LENGTH = 320
MAX_CODE_LENGTH = 255  # a discount code, a SKU
