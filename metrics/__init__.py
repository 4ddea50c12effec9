"""Engagement store, metric formulas, aggregation, scheduler and reports."""
