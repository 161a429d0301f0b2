"""OpenID Connect Back-Channel Logout: who received an ID token in which session, the outbox of
logout tokens, and the worker that delivers them.

    recipients.remember_id_token_recipient(client_pk=, sid=, now=)   an ID token naming `sid`
    outbox.announce_ended_sessions(user_id, now=)   after a session ends (in its transaction)
    delivery.deliver_due()                     one delivery pass (the worker calls it every second)
    worker.start_delivery_worker(app)          the background loop of a `serve` worker process

Ending a session never waits for a relying party: the outbox rows are written in the same
transaction as the session's end (so a logout is never lost, nor announced for a session that
did not end), and a background loop in every `serve` worker process delivers them. Any number
of instances deliver side by side; a row is claimed by a conditional UPDATE before it is sent,
so under normal operation each message goes out once (docs/protocol.md, "Back-channel logout").
"""

# No imports here: session code imports backchannel.outbox, and delivery reaches the OAuth
# package, which reaches sessions again; importing the modules themselves keeps that acyclic.
