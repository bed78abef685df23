"""What one process holds: settings, engines, the shop directory, intake and the runner."""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass, field

from app.config import Settings
from app.connectors.clients import StoreClients
from app.crypto import Vault
from app.db import Database
from app.jobs.kinds import JobKinds, app_kinds
from app.jobs.runner import Runner
from app.jobs.scheduled import SCHEDULED
from app.jobs.worker import JobWorker
from app.members.balances import BalanceReader
from app.program.catalog import StoreCatalog
from app.program.versions import HistoryCache
from app.ratelimits import ConnectLimits, SignInLimits, StorefrontLimits
from app.shops.service import ShopDirectory
from app.webhooks.intake import Intake
from app.webhooks.processing import EventProcessor


def freeze_start_up() -> None:
    """Everything built so far (modules, routes, SQLAlchemy's mappers) lives as long as the
    process: move it out of the collector's sight, so that its full collections do not walk it
    again and again while requests or batches wait (tens of milliseconds each)."""
    gc.collect()  # start-up's own garbage is not kept forever
    gc.freeze()


def build_runner(
    db: Database,
    shops: ShopDirectory,
    settings: Settings,
    kinds: JobKinds | None = None,
    stores: StoreClients | None = None,
) -> Runner:
    """The runner with everything it works through: stored events, jobs, periodic tasks."""
    stores = stores or StoreClients(db, shops.vault)
    return Runner(
        db,
        shops,
        settings,
        sources=[
            EventProcessor(db, shops, settings, StoreCatalog(stores)),
            JobWorker(db, shops, settings, app_kinds() if kinds is None else kinds, stores),
        ],
        periodic=SCHEDULED,
    )


@dataclass
class AppState:
    settings: Settings
    db: Database
    vault: Vault
    shops: ShopDirectory
    intake: Intake
    worker: Runner
    balances: BalanceReader
    wake_worker: asyncio.Event = field(default_factory=asyncio.Event)
    programs: HistoryCache = field(default_factory=HistoryCache)
    storefront_limits: StorefrontLimits = field(default_factory=StorefrontLimits)
    sign_in_limits: SignInLimits = field(default_factory=SignInLimits)
    connect_limits: ConnectLimits = field(default_factory=ConnectLimits)

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
            worker=build_runner(db, shops, settings),
            balances=BalanceReader(db),
            wake_worker=wake,
        )
