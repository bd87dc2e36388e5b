"""Process plumbing with no knowledge of the gate: logging, metrics, systemd, the supervisor."""
