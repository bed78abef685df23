"""Fake stores: real HTTP servers that keep state and hold to the platforms' documented
contracts, for tests and demos (server.py runs them)."""
