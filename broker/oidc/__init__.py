"""The OpenID Provider's grammar, one module per spec area. Pure: no storage, no HTTP framework."""
