"""Readers: every source becomes a validated EventLog through one pipeline (``build``)."""

from .build import REASONS, LoadOptions
from .channels import CHANNEL_ALIASES
from .dispatch import read
from .files import read_csv, read_jsonl, read_parquet
from .frames import from_pandas, read_sql
from .xes import read_xes

__all__ = ["CHANNEL_ALIASES", "REASONS", "LoadOptions", "from_pandas", "read", "read_csv", "read_jsonl", "read_parquet", "read_sql", "read_xes"]
