"""Benchmarks for Vafa's hot paths; see bench/README.md."""
