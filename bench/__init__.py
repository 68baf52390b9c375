"""Benchmarks: each starts what it needs on loopback, runs bounded load and writes bench/results/*.json."""
