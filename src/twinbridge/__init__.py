"""twinbridge: a self-hosted iTwin Platform Export and Synchronization API."""

__version__ = "0.1.0"
