"""Rewards a shop offers for points, and their redemptions as discount codes on the store."""
