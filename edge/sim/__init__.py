"""The day simulator: a whole day of a center through the real queue engine, in seconds."""
