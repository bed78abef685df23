"""Keeping Vafa and the stores in step: the balance written back to the store's customer, the
webhook subscriptions Vafa needs, the reconciliation sweep that makes good a lost webhook, and
the backfill of past orders."""
