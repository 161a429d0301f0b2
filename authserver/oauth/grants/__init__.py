"""One module per grant type; each subclasses Authlib's grant and fills in storage hooks."""
