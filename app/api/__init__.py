"""The HTTP API's shared machinery: route dependencies, the admin routes' key and body checks,
the error answers and the offline documentation page."""
