"""The one web stack of every page (hall, operator panel, kiosk, central's screens)."""
