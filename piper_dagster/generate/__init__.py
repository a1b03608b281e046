"""The sample-spool generator (`piper spool generate`, `piper demo`, tests, benchmarks):
deterministic, realistic spools for the contract telemetry-v1, apart from the pipeline."""
