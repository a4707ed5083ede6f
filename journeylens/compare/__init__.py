"""Observed journeys against the designed one: ``conformance``, ``drift``, ``model_fitness``.

The package is also the function people reach for: ``jl.compare(log, journey_map, ...)``
calls :func:`journeylens.compare.conformance.compare`, while
``journeylens.compare.drift`` and the other modules stay reachable by name.
"""

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    """``journeylens.compare(...)`` runs the conformance comparison; its modules stay attributes."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from .conformance import compare

        return compare(*args, **kwargs)

    @property
    def __signature__(self):  # help() and IDEs show compare's parameters
        import inspect

        from .conformance import compare

        return inspect.signature(compare)


sys.modules[__name__].__class__ = _CallablePackage
