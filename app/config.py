"""Settings, read from environment variables prefixed ``VAFA_``."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.db import POOL_MAX_OVERFLOW, POOL_SIZE, POOL_TIMEOUT_SECONDS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VAFA_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///vafa.db"
    # Fernet key (urlsafe base64 of 32 bytes) that encrypts stored platform credentials.
    secret_key: str = ""
    # PostgreSQL connections per pool, kept open, and how many more a burst may open: a process
    # has two pools (writer and reader), so it may open 2 × (size + overflow). See README.md.
    db_pool_size: int = Field(default=POOL_SIZE, ge=1)
    db_max_overflow: int = Field(default=POOL_MAX_OVERFLOW, ge=0)
    # How long a request waits for a free connection before it is answered 503 (both engines).
    db_pool_timeout_seconds: float = Field(default=POOL_TIMEOUT_SECONDS, gt=0)
    log_level: str = "info"
    log_json: bool = False

    # Webhook intake
    webhook_max_body_bytes: int = 5 * 1024 * 1024
    # How long a decrypted shop record is reused before it is read again (secret rotation delay).
    shop_cache_seconds: float = 30.0

    # Worker
    worker_in_process: bool | None = None  # default: in-process on SQLite only
    # Events per worker transaction; on SQLite smaller, as a batch holds the one write lock
    # that webhook intake needs too.
    worker_batch_size: int | None = Field(default=None, ge=1)
    worker_idle_sleep_seconds: float = 0.2
    worker_max_attempts: int = Field(default=8, ge=1)
    worker_backoff_base_seconds: float = 2.0
    scheduler_interval_seconds: float = 60.0

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def batch_size(self) -> int:
        if self.worker_batch_size is not None:
            return self.worker_batch_size
        return 50 if self.is_sqlite else 200

    @property
    def run_worker_in_process(self) -> bool:
        if self.worker_in_process is None:
            return self.is_sqlite
        return self.worker_in_process


@lru_cache
def get_settings() -> Settings:
    return Settings()
