"""The one job queue: a ``jobs`` table, its queue mechanics (claim, backoff, park, replay,
per-shop pause), the registry of job kinds, and the runner that also processes stored webhook
events and runs the periodic tasks."""
