"""The storefront widget: one dependency-free web component, ``<vafa-club>``, served by Vafa."""
