"""Benchmarks run as scripts (`make bench`), not as timed tests; see docs/benchmarks.md."""
