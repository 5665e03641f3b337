"""Fault injection: real `python -m evcs <role>` processes, a fleet of simulated chargers that
remembers exactly what was acknowledged, and `evcs soak`, which breaks things at random while
they run. The fault tests (tests/e2e/test_fault_*.py) use the same parts."""
