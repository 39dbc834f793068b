"""Ticket printing: layout, KZ-1048 text and raster rendering, transports, printer workers."""
