"""Benchmark suites of ``convzoo benchmark``: each module defines ``SUITES = {name: fn(args)}``."""
