"""Kiosk ↔ centre sync: push the signed ledger outbox, pull signed rosters.

`client.SyncClient` does the work; `signing` is the request-signature scheme the centre
verifies; `backoff` is exponential backoff with full jitter.
"""
