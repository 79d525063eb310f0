"""Menus from the voice-menu REST API: an HTTP client, the menu assembled from its resources, a cached source."""
