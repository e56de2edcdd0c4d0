"""What every storage driver shares: the group-commit engine."""
