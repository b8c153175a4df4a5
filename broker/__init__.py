"""VNeID SSO broker: an OpenID Provider to public-service systems, a relying party to VNeID."""

import warnings

import authlib.deprecate  # noqa: F401  (installs an "always" filter for its warnings; ours must come after)

# Authlib 1.9 nudges from httpx towards its httpx2 fork on import; plain httpx stays fully supported
# through Authlib 1.x (pinned below 2), and the nudge would otherwise print on every CLI command.
warnings.filterwarnings("ignore", message=".*httpx2.*", category=DeprecationWarning)
