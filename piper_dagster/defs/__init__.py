"""Dagster wiring: thin definitions over the plain functions of piper_dagster."""

import warnings

import dagster as dg

# One run per partition range (BackfillPolicy.single_run) is the design, not an experiment:
# Dagster 1.13 marks the parameter beta and would warn at every load of the code location.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
