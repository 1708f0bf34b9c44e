"""Cycler-format connectors: each module reads one format into the canonical BDF time series.

Connectors never import ``blc``: what they need (timezone, format override) is passed as arguments.
"""
