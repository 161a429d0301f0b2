"""Accounts: their lifecycle, what the owner and an administrator may change, reset and
verification by mail, roles, export and deletion."""
