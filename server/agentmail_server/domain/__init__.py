"""Pure rules and models: no I/O, no gRPC, no SQL."""
