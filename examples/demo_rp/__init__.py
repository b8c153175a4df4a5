"""Demo relying party: a province's procedure-handling system that logs citizens in through the broker."""
