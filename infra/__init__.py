"""Process plumbing: embedded servers and the `make run` supervisor."""
