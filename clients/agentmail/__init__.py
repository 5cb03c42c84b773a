"""Generated agentmail wire types; do not edit."""
