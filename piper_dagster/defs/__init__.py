"""Dagster wiring: thin definitions over the plain functions of piper_dagster."""
