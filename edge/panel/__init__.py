"""The operators' panel: a page per window on the center's LAN (docs/operator.md)."""
