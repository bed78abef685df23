from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.privacy.models import PrivacyRequest


class RequestOut(BaseModel):
    """A privacy request as the admin API lists it (without an export's document)."""

    id: int
    kind: str = Field(description="export | redact_customer | redact_shop")
    customer_id: str | None
    source: str = Field(description="webhook | api | cli")
    status: str = Field(description="pending | done | failed | erased (by a later redaction)")
    requested_at: datetime
    completed_at: datetime | None
    last_error: str | None

    @classmethod
    def of(cls, request: PrivacyRequest) -> RequestOut:
        return cls(
            id=request.id,
            kind=request.kind,
            customer_id=request.customer_id,
            source=request.source,
            status=request.status,
            requested_at=request.requested_at,
            completed_at=request.completed_at,
            last_error=request.last_error,
        )


class ExportOut(RequestOut):
    document: dict[str, Any] | None = Field(
        description="everything Vafa holds on the customer; null until done, or once erased"
    )

    @classmethod
    def of(cls, request: PrivacyRequest) -> ExportOut:
        return cls(**RequestOut.of(request).model_dump(), document=request.result)


class ExportsOut(BaseModel):
    exports: list[RequestOut]


class RedactionOut(RequestOut):
    changed: dict[str, int] = Field(description="what the redaction changed, by table")

    @classmethod
    def of(cls, request: PrivacyRequest) -> RedactionOut:
        return cls(**RequestOut.of(request).model_dump(), changed=request.result or {})


class PrivacySettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webhook_body_retention_days: int | None = Field(
        ge=0,
        le=36_500,
        description="days a processed webhook's raw body is kept; null keeps it (the default)",
    )


class PrivacySettingsOut(BaseModel):
    webhook_body_retention_days: int | None
