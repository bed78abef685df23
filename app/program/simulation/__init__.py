"""What-if: a draft program replayed on a shop's stored events, away from the live ledger
(``app/program/simulate.py`` is the entry point)."""
