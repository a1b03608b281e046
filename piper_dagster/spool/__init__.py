"""The telemetry spool: discovery, fingerprints, checkpoints, the planner, reading, and the sample
generator."""
