"""Stand-ins for the internet's edge: small HTTP servers on loopback that the real clients talk to."""
