"""Helpers for testing an iTwin integration against twinbridge: a served test server and its clients.

`pytest_plugin` turns them into fixtures (`twinbridge_server`, `twinbridge_client`, `twinbridge_itwin`, ...);
another test runner can use `server.TwinbridgeServer.start(directory)` directly. twinbridge's own: the cloud
service has nothing like it. Nothing is imported here, so that loading the plugin stays cheap for every
pytest run of a project that has twinbridge installed.
"""
