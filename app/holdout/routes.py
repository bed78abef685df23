"""The holdout's routers, registered together by ``app.main``."""

from __future__ import annotations

from fastapi import APIRouter

from app.admin.lift_pages import router as lift_pages
from app.holdout.endpoints import router as holdout
from app.holdout.lift_endpoints import router as lift

ROUTERS: tuple[APIRouter, ...] = (holdout, lift, lift_pages)
