"""Demo relying party: a province's procedure-handling system that logs citizens in through the broker."""

import warnings

import authlib.deprecate  # noqa: F401  (installs an "always" filter for its warnings; ours must come after)

# Authlib 1.9 nudges from httpx towards its httpx2 fork; plain httpx is still fully supported in 1.x.
warnings.filterwarnings("ignore", message=".*httpx2.*", category=DeprecationWarning)
