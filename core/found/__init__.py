"""Found persons: the people institutions hold (alive or deceased), matched against the missing register."""
