"""Calls the broker makes to relying parties: their JWKS, sector identifier documents, back-channel
logout. Every call has connect and read timeouts and never follows redirects."""
