"""Per-caller limits as plain in-memory state: token buckets, the table of which rate-limit
tier each RPC belongs to, and the sender -> recipient flood guard. The rpc layer's admission
(:mod:`agentmail_server.rpc.admission`) applies the buckets to calls."""
