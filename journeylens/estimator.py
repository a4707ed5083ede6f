"""The scikit-learn estimator contract, without importing scikit-learn until it is needed.

Persona and prediction models are scikit-learn estimators over logs:
``get_params``/``set_params`` from the constructor's signature (so ``sklearn.clone``
and grid searches work), parameters stored unchanged by ``__init__`` and checked
at the start of ``fit``, and scikit-learn's ``NotFittedError`` before ``fit``.
scikit-learn itself is imported only when a model fits or reports that it is not
fitted, so ``import journeylens`` stays light.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from .errors import ParameterError


class Estimator:
    """Base of journeylens' models; ``_fitted_attribute`` names the attribute that ``fit`` sets."""

    _fitted_attribute = ""

    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters (``sklearn.clone`` rebuilds the model from them)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "Estimator":
        """Set constructor parameters; an unknown name is a :class:`~journeylens.errors.ParameterError`."""
        for name, value in params.items():
            if name not in self._param_names():
                raise ParameterError(f"{type(self).__name__} has no parameter {name!r} "
                                     f"(parameters: {', '.join(self._param_names())})", name)
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        default = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        shown = [f"{n}={v!r}" for n, v in self.get_params().items() if not _same(v, default[n])]
        return f"{type(self).__name__}({', '.join(shown)})"

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, self._fitted_attribute)

    def _check_fitted(self) -> None:
        """scikit-learn's ``NotFittedError`` (a ``ValueError``) when ``fit`` has not run."""
        if not self.__sklearn_is_fitted__():
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit(log) first")


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) if not isinstance(a, np.ndarray) else False
    except (TypeError, ValueError):
        return False
