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
    # Batches of events a `vafa worker` applies at once on PostgreSQL, each in its own
    # transaction: one batch's Python work runs while another waits for the database.
    worker_event_streams: int = Field(default=2, ge=1, le=8)
    # A failed event or job is tried again after base · 2^(attempts−1) seconds, at most the
    # cap, less a random part (the jitter) of it; parked as failed after max_attempts.
    worker_max_attempts: int = Field(default=8, ge=1)
    worker_backoff_base_seconds: float = Field(default=2.0, ge=0)
    worker_backoff_max_seconds: float = Field(default=3600.0, ge=0)
    worker_backoff_jitter: float = Field(default=0.5, ge=0, le=1)
    # Jobs claimed per turn, and how long a claimed job may run before another runner may
    # take it over (its runner is presumed dead; the attempt counts as failed).
    jobs_batch_size: int = Field(default=20, ge=1)
    jobs_lease_seconds: float = Field(default=300.0, gt=0)
    # Jobs of a batch run at once: most of a job's time is a call to a store, waiting.
    jobs_concurrency: int = Field(default=8, ge=1)
    scheduler_interval_seconds: float = 60.0
    # The worker inside `vafa serve` (SQLite) shares the process and the one writer with
    # webhook intake: while deliveries keep arriving it takes at most this share of the time
    # (pausing up to the max between batches) in batches of this size, so acknowledgements
    # never queue behind it for long.
    worker_busy_share: float = Field(default=0.2, gt=0, le=1)
    worker_busy_batch_size: int = Field(default=10, ge=1)
    worker_busy_max_pause_seconds: float = Field(default=1.0, ge=0)
    # How long POST …/redemptions waits for the store's code before answering 202 (pending).
    redemption_wait_seconds: float = Field(default=3.0, ge=0, le=3.0)

    # Calls to the stores (app/sync)
    # The base URL at which the platforms reach this Vafa: webhook subscriptions are made for
    # {public_url}/webhooks/…; unset, Vafa registers none (the owner points the store's
    # webhooks at it by hand).
    public_url: str | None = None
    # A member's balance is written to the store this long after it changed (and a write
    # asked for while one runs waits as long again), so that a burst of changes is one write.
    writeback_delay_seconds: float = Field(default=1.0, ge=0)
    # How often each shop's orders are read back from the store, to make good a lost webhook;
    # each sweep reads again from this long before where the last one ended (orders committed
    # late, clocks a little apart). A shop's first sweep starts when the shop was added.
    sweep_interval_seconds: float = Field(default=600.0, gt=0)
    sweep_overlap_seconds: float = Field(default=300.0, ge=0)
    # The WooCommerce key exchange calls the store URL a stranger gives: only https:// on a
    # public address, unless this is true (tests, `make demo` and stores on a private network).
    allow_private_stores: bool = False

    # Vafa as a Shopify app that store owners install (app/shopify_app): its client id and
    # secret from the Dev Dashboard; the secret signs its OAuth queries, session tokens and
    # webhooks. Unset, shops are only added with `vafa shop add-shopify`.
    shopify_client_id: str | None = None
    shopify_client_secret: str | None = Field(default=None, repr=False)

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
