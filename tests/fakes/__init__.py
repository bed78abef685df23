"""Fake stores for tests and the demo: real HTTP servers that keep state and hold to the
platforms' documented contracts (auth, validation errors, throttling, injected failures)."""
