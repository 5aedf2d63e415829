"""Route modules, one per concern, each exposing `router`."""
