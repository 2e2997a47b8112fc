"""Filled in by the servers work."""
