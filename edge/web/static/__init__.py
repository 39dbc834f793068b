"""Scripts more than one page loads (a package so that they ship in the wheel as package data)."""
