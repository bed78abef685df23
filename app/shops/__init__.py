"""Shops (tenants): their platform, encrypted credentials, admin API key and program settings."""
