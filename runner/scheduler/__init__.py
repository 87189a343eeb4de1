"""The scheduler's shell: reading its input files (cluster states, pods, bindings,
configurations, feature gates) and rendering its reports for people."""
