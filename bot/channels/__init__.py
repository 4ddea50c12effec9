"""Custom Rasa input channels: WhatsApp through Twilio and through Meta's WhatsApp Cloud API."""
