"""Vafa: a customer-club (loyalty points) service for Shopify and WooCommerce stores."""

__version__ = "0.1.0"
