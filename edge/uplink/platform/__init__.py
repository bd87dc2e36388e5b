"""Clients for the upstream environmental platform (one module per API)."""
