"""The API server's specification: its invariants over recorded client histories."""
