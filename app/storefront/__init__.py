"""The shopper's side: the storefront API the widget calls, for one customer of one shop."""
