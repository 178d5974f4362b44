"""Scripted runs (control API, issue 15; no upstream counterpart): rules that make runs follow a given path of
states, results, errors and output instead of doing the work, holds that keep a run in a state until a test
releases it, and engine faults that crash the engine under a real run.

Runs execute in other processes than the API (embedded workers, Celery workers), so rules and each run's
script live in the database; `execution.with_scripts` wraps every real executor (twinbridge.features).
"""
