"""Evaluation: official metrics, benchmark readers and the runner behind `synthloop eval`."""

from synthloop.evaluate.runner import evaluate, majority_baseline

__all__ = ["evaluate", "majority_baseline"]
