"""AI back ends behind a session: the provider contract, its events and the registry."""
