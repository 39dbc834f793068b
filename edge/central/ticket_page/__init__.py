"""The visitor's ticket page: central's per-ticket projection and the public `/t/<token>`."""
