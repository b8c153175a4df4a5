"""One adapter per upstream shape, all behind ``UpstreamAdapter`` (broker.upstream.adapters.base)."""
