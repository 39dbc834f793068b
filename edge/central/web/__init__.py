"""The Situational Center: central's staff screens (country, center, overdue visits, reports)."""
