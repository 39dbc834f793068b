"""The visitor's side: the touch kiosk page and the notices every visitor screen shows."""
