"""Experiments: lab sweeps, their reports, comparison tables and offline plots."""
