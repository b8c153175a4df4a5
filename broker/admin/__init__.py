"""Operators' use cases: the client registry (and, later, roles, reviews, reports)."""
