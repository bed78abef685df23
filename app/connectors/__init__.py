"""Platform connectors: each turns its platform's payloads into the neutral snapshots of
:mod:`app.connectors.base`."""
