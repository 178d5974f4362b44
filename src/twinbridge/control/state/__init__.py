"""Reset and snapshots of the control API: the whole state of the server (database and blobs) emptied, saved
under a name, and put back. twinbridge's own: the iTwin Platform has nothing like it."""
