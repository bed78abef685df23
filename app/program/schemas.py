"""The program API's bodies: a version of the shop's program and the list of them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.program.document import ProgramDocument
from app.program.versions import Version


class ProgramVersionOut(BaseModel):
    version: int = Field(description="1 for the first; each PUT makes the next")
    effective_at: datetime = Field(description="orders paid from then on are judged by it")
    document: ProgramDocument

    @classmethod
    def of(cls, version: Version) -> ProgramVersionOut:
        return cls(
            version=version.version,
            effective_at=version.effective_at,
            document=version.document,
        )


class ProgramVersionsOut(BaseModel):
    versions: list[ProgramVersionOut] = Field(description="oldest first")
