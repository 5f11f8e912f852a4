"""Domain logic: pure functions over plain data. No connections, no environment."""
