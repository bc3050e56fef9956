"""Distributed mode (internal): the replica that keeps breakers in step with a Storage, shared rate
limits, Redis's edges."""
