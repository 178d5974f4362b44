"""The control API under /_twinbridge/: what a test suite needs from a local server and the cloud lacks.

Off unless TWINBRIDGE_CONTROL_API is set (twinbridge.features then adds it). Each part is its own package
with the usual file roles; they register with the app through twinbridge.features.
"""
