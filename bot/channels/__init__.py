"""Custom Rasa input channels: WhatsApp through Twilio and through Meta's WhatsApp Cloud API.

Rasa imports this package for the channels in ``credentials.yml``. Importing it patches
nothing: the patches of Rasa are installed by the Rasa server's launcher (``bot.rasa_server``).
"""

from core.settings import require_production_safe

# Rasa imports this package for its channels before it serves: an unsafe production set-up
# (DEALERBOT_ENV=production without a contact-key secret) stops the server here.
require_production_safe()
