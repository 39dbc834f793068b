"""The ticket queue: the domain model, its rules (policies, bookings) and the pure engine."""
