"""Benchmarks: run with ``python -m benchmarks``; figures go to docs/benchmarks.md."""
