"""Processing stored webhook events into the ledger: the worker, its retries, replay."""
