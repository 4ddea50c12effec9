"""Custom Rasa input channels: WhatsApp through Twilio and through Meta's WhatsApp Cloud API.

Rasa imports this package for the channels in ``credentials.yml``, so it is where the Rasa
server picks up :mod:`bot.action_fallback` (an apology when the action server fails).
"""

from bot.action_fallback import install as _install_action_fallback
from bot.rasa_speedups import install as _install_speedups
from metrics.settings import require_production_safe

# Rasa imports this package for its channels before it serves: an unsafe production set-up
# (DEALERBOT_ENV=production without a contact-key secret) stops the server here.
require_production_safe()
_install_action_fallback()
_install_speedups()  # a cached check of action server replies (docs/profile.md)
