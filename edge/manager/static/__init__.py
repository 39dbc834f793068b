"""The manager page's files (a package so that they ship in the wheel as package data)."""
