"""The switch-neutral call layer: one driver per call, the Switch protocol adapters implement, the call registry and routing."""
