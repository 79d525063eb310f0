"""The Asterisk adapter: ARI's events WebSocket and REST calls behind the call layer's `Switch` protocol."""
