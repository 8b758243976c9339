"""Evaluation metrics of the tasks (entity-level scores of tagging)."""
