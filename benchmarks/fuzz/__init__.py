"""Fuzz campaign: structure-aware mutation of real seed files through the public API, each
case in a watched worker process (see ``python -m benchmarks.fuzz.campaign --help``)."""
