"""The privacy duties: a member's data exported or anonymised, a shop's data deleted, a shop
paused when the app is uninstalled, and raw webhook bodies kept only as long as the shop says.

Shopify asks through its compliance webhooks (customers/data_request, customers/redact,
shop/redact, app/uninstalled); any store owner asks through the admin API or the CLI. Every
request is a :class:`app.privacy.models.PrivacyRequest` row, carried out by
:func:`app.privacy.service.carry_out` (at once for the API and the CLI, at the next scheduler
tick for a webhook: it runs for paused shops too, as a request never calls the store)."""
