"""Benchmarks: bounded scenarios against loopback servers that print measured figures."""
