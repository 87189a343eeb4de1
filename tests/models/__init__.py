"""Tests of the Kubernetes object model."""
