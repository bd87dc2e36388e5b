"""The local SQLite ledger: schema, passes, photos, outbox, plans and lists, daily figures,
retention, the fallback journal."""
