"""Readers: every source becomes a validated EventLog through one pipeline (``build``)."""

from .build import REASONS, LoadOptions
from .channels import CHANNEL_ALIASES
from .dispatch import read
from .frames import from_pandas, read_sql
from .xes import read_xes

__all__ = ["CHANNEL_ALIASES", "REASONS", "LoadOptions", "from_pandas", "read", "read_sql", "read_xes"]
