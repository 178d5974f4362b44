"""The web console (issue 16): the single-page app built from console/ by `make setup` into dist/, served at
/console by the API server. It uses only the public REST APIs, with a token of the built-in issuer's
sign-in; its files themselves need no token."""
