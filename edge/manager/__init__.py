"""The center manager's day: figures of the visit stages, the page, the CSV (issue 19)."""
