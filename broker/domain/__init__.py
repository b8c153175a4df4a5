"""Plain Python, no I/O: accounts, identification numbers, the policy, the login flow's states."""
