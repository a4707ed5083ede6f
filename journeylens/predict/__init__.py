"""Prediction over journeys: what a customer does next, and whether they convert (scikit-learn estimators over logs)."""
