"""DPoP (RFC 9449): sender-constrained tokens, proved with a key the client holds.

- ``proofs.py`` checks one proof JWT (§4.3) and ``htu`` comparison (§4.3 check 9).
- ``replay.py`` spends each proof's ``jti`` once, in the database, for every instance (§11.1).
- ``nonces.py`` makes and checks server nonces without shared state (§8).
- ``token_binding.py`` is the token endpoint's side: the proof of a token request, the rules
  that depend on the client and the refresh token (§5), the ``DPoP-Nonce`` header.
- ``resource.py`` is a protected resource's side (userinfo): the bound token, its proof, and
  the ``DPoP`` challenge (§7).
"""
