"""Connecting a WooCommerce store to Vafa without pasting keys: WooCommerce's application
authentication endpoint (``/wc-auth/v1/authorize``) makes the keys and POSTs them to Vafa."""
