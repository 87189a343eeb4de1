"""Client histories in the runner: presenting a checked history (the HTML timeline)."""
