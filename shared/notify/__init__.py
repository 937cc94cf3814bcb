"""Delivering notifications: a signed webhook or an e-mail per row of the outbox."""
