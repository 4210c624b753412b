"""Shipped data: profiles/ (model profiles, JSON) and scenarios/ (YAML), packaged as ``slopt.data``."""
