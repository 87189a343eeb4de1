"""Simulation, trace and replay tests."""
