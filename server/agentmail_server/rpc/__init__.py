"""gRPC layer: servicers, proto conversion, status mapping and interceptors."""
