"""Running as a system service: systemd notify, logs, health, the status socket, metrics."""
