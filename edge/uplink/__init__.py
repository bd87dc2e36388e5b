"""Towards the environmental platform: the API clients, the forwarder, the circuit breaker,
the backlog monitor."""
