"""Reads of analytics: reports over the rows of every app, one module per area."""
