"""Mapping suggestions: propose ``target <- source`` rules with a confidence and a one-line reason.

Offline only: a synonym table, string similarity (difflib) and sample values; no model is loaded.
"""

from .matcher import DEFAULT_THRESHOLD, Suggestion, suggest

__all__ = ["DEFAULT_THRESHOLD", "Suggestion", "suggest"]
