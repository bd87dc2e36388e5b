"""The one TOML configuration a technician edits, and its field-technician error messages."""
