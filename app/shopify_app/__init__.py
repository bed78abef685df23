"""Vafa as a Shopify app that store owners install (PLATFORMS.md S3-S5): the install (the
authorization-code grant, and token exchange for the embedded app), session tokens for the
embedded admin's calls, and the signatures Shopify puts on the queries it sends (OAuth and the
app proxy)."""
