"""Stand-ins for the internet's edge: small HTTP servers on loopback that the real clients talk to.

Used by the tests and by the chaos benchmark (benchmarks/chaos.py), so they live beside both.
"""
