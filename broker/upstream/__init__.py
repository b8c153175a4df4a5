"""The relying-party side towards VNeID. Translates VNeID's wire format into a VerifiedIdentity."""
