"""The audit trail: recording security events, reading them back, and the only changes ever
made to its rows (pseudonymisation, retention)."""
