"""A Sanic app with only the web widget's channel; every message is echoed back with its dealer.

Run as ``python -m tests.unit.web.socketio_app PORT``: the real channel, no model needed.
"""

import sys

from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from bot.channels.socketio_origins import WebSocketIOInput


async def echo(message: UserMessage) -> None:
    text = f"{message.metadata.get('dealer')}|{message.sender_id}|{message.text}"
    await message.output_channel.send_text_with_buttons(
        message.sender_id, text, [{"title": "<b>Ja</b>", "payload": "/affirm"}]
    )


def main(port: int) -> None:
    channel = WebSocketIOInput.from_credentials({"session_persistence": True})
    app = Sanic("socketio_test")
    app.blueprint(channel.blueprint(echo), url_prefix="/webhooks/socketio")  # as rasa run does
    app.run(host="127.0.0.1", port=port, access_log=False)


if __name__ == "__main__":
    main(int(sys.argv[1]))
