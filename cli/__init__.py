"""The ``dealerbot`` command line: the top layer, it wires every feature together."""
