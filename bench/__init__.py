"""Benchmarks of the mall, run by `python -m bench` (`make bench`); see bench/README.md.

Speed is measured here, never asserted in the test suite: each figure is a ratio to a baseline
measured in the same run, because the load generator shares the machine with the server.
"""
