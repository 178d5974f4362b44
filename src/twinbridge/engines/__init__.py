"""Engines behind the APIs: the iModel engine (Node worker pool) and the format converters built on it."""
