"""Reference data shipped with the broker (see broker/domain/units.py)."""
