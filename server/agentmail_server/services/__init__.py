"""Use cases: what each RPC does, in terms of the domain, the writer and the queries."""
