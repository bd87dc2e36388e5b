"""edge-gate: the gate-controller daemon (plate → platform → barrier → ledger → platform)."""

__version__ = "0.1.0"
