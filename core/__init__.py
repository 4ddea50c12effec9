"""The shared core: settings with the one clock, and the store. Imports only ``dealer``."""
