"""Anomaly detectors and their model store: River and scikit-learn behind the scoring ports.

Each module imports its own library, so importing `adapters.ml` alone loads neither River
nor scikit-learn. Every detector takes feature rows as tuples of floats (`Features`) and
returns scores in [0, 1], higher meaning more anomalous.
"""
