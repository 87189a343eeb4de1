"""What correct means: named properties, sequential reference models and history checkers.

This package never imports ``impl``: it judges states and histories that come from any
implementation.
"""
