"""Webhook intake: verify, store the raw event once, acknowledge fast. The worker processes."""
