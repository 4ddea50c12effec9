"""Custom NLU components, referenced from config.yml."""
