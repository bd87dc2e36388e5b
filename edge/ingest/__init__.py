"""Camera adapters: every way a plate reaches the daemon, normalised to a PlateEvent."""
