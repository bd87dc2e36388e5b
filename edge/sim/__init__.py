"""Simulators for what cannot run here: the platform, cameras, and (in drivers.virtual) devices.

They speak the real wire formats, so technicians can use them to rehearse a site too.
"""
