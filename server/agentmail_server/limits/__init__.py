"""Per-caller limits: rate-limit buckets by tier, the sender -> recipient flood guard, and the
table of which tier each RPC belongs to."""
