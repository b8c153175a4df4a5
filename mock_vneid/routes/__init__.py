"""HTTP routers: thin translations between requests and the protocol modules."""
