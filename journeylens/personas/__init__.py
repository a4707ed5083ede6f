"""Data-driven personas: per-user features, the PersonaModel estimator, profiles and segment tests."""

from .features import user_features
from .model import PersonaModel
from .profiles import Profiles, compare_segments, profile

__all__ = ["PersonaModel", "Profiles", "compare_segments", "profile", "user_features"]
