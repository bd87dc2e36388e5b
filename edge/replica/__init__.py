"""Replication of the ledger and photos off the box, and restoring them (issue 17,
docs/replication.md)."""
