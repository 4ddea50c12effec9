"""The rasa-sdk action server: thin actions that read slots, call dealer/store code and reply."""

from core.settings import require_production_safe

# rasa-sdk imports this package before it serves: an unsafe production set-up stops it here.
require_production_safe()
