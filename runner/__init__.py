"""The imperative shell: simulator, traces, adapters to real systems and the command line."""
