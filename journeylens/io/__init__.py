"""Readers: every source becomes a validated EventLog through one pipeline (``build``)."""

from .build import REASONS, LoadOptions
from .channels import CHANNEL_ALIASES
from .frames import from_pandas, read_sql

__all__ = ["CHANNEL_ALIASES", "REASONS", "LoadOptions", "from_pandas", "read_sql"]
