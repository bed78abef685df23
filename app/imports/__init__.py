"""Members in and out as CSV: opening balances imported from another loyalty program, and the
members, their balances and the ledger exported."""
