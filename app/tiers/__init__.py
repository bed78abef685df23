"""Tiers and the paid VIP membership: qualification over the program's window, tier changes
with their own history, benefits, and the store's copy of the tier."""
