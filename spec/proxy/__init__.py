"""The service model, its properties, and judging a proxy against it."""
