"""Collection benchmarks (issue 4); filled in by the collection work."""
