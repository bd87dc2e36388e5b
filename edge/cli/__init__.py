"""The ``edge`` command line."""
