"""Data files shipped with the workbench (persona library, ...)."""
