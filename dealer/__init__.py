"""Dealer domain: dealer files, opening hours, workshop slots, stock, parsing and language."""
