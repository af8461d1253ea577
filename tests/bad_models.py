"""Estimators that misbehave on purpose, for the bad-input catalogue (importable, so they pickle)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

RAISING_MESSAGE = "solver diverged on row 0 (RaisingRegressor refuses to predict)"


class RaisingRegressor(RegressorMixin, BaseEstimator):
    """Fits like any regressor; its predict raises the estimator's own error."""

    def fit(self, X, y):
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        raise RuntimeError(RAISING_MESSAGE)
