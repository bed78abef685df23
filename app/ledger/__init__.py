"""The points ledger: double-entry, append-only, idempotent, explainable. See models.py for the
invariants, service.py for the one function that writes postings and holds.py for two-phase
spending. The ledger sits below the members domain and imports nothing from it."""
