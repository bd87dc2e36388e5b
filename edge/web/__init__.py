"""The HTTP face: the server, the guards' status page, login, the province photo listener."""
