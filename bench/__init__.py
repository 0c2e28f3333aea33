"""Benchmarks (`make bench`): each prints absolute figures beside a baseline from the same run."""
