"""Scheduled and occasional upkeep: purging what has expired, re-encrypting secrets at rest."""
