"""The MQTT face: telemetry and remote commands."""
