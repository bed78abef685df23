"""The points ledger: double-entry, append-only, idempotent, explainable. See models.py for the
invariants and service.py for the one function that writes postings."""
