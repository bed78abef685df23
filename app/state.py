"""What one process holds: settings, engines, the shop directory, intake and worker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from app.config import Settings
from app.crypto import Vault
from app.db import Database
from app.events.worker import Worker
from app.members.balances import BalanceReader
from app.shops.service import ShopDirectory
from app.webhooks.intake import Intake


@dataclass
class AppState:
    settings: Settings
    db: Database
    vault: Vault
    shops: ShopDirectory
    intake: Intake
    worker: Worker
    balances: BalanceReader
    wake_worker: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def build(cls, settings: Settings, db: Database | None = None) -> AppState:
        db = db or Database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_seconds,
        )
        vault = Vault(settings.secret_key)
        shops = ShopDirectory(db, vault, settings.shop_cache_seconds)
        wake = asyncio.Event()
        return cls(
            settings=settings,
            db=db,
            vault=vault,
            shops=shops,
            intake=Intake(db, on_accepted=wake.set),
            worker=Worker(db, shops, settings),
            balances=BalanceReader(db),
            wake_worker=wake,
        )
