"""Preparation steps on a log: ``identities`` (stitching), ``sessions``, ``stages`` (and filters).

Each step returns a new log and records its parameters in ``log.parameters``.
The functions are imported from the top-level package (``jl.sessionize`` …).
"""
