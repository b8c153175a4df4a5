"""The use cases, one small module each (node-oidc-provider's steps). Each asks the store, then acts."""
