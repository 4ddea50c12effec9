"""Rasa-side code: NLU components, input channels and the runtime launcher."""
