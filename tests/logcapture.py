"""For tests that check what reaches the log: a structlog logger that keeps the lines it would
print (tracebacks included), and a statement that fails with a customer's e-mail bound."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import text
from structlog.testing import CapturingLogger


class CapturedLog:
    def __init__(self) -> None:
        self.sink = CapturingLogger()
        self.logger: Any = structlog.wrap_logger(
            self.sink,
            processors=[structlog.processors.format_exc_info, structlog.processors.JSONRenderer()],
            wrapper_class=structlog.make_filtering_bound_logger(0),
        )

    @property
    def text(self) -> str:
        return "\n".join(str(arg) for call in self.sink.calls for arg in call.args)

    @property
    def events(self) -> list[str]:
        return [str(call.args[0]) for call in self.sink.calls]


EMAIL = "alice.private@example.com"


async def fail_with_email(session: Any, shop_id: int, email: str) -> None:
    """A statement that fails with a customer's e-mail among its bound values; on PostgreSQL
    the driver's own message quotes the value too."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT CAST(:email AS BIGINT)"), {"email": email})
    await session.execute(
        text("INSERT INTO members (shop_id, customer_id, email) VALUES (:shop, NULL, :email)"),
        {"shop": shop_id, "email": email},
    )
