"""The telemetry spool: discovery, reading, and the sample generator."""
