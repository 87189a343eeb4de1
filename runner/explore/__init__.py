"""Exploration at scale: many seeds or input files run in parallel, locally or on Dask."""
