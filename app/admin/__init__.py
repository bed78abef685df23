"""The store owner's admin at ``/admin``: server-rendered pages (Jinja2) that work without
JavaScript, in Persian and English."""
