"""The rasa-sdk action server: thin actions that read slots, call dealer/store code and reply."""
