"""platscan: security compliance scanner for shared government platforms."""

__version__ = "0.1.0"
