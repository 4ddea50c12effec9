"""The Rasa server as the launcher starts it: ``python -m bot.rasa_server run ...`` is
``rasa run ...`` with our patches of Rasa installed first.

The patches (:mod:`bot.rasa_speedups`: cheaper action calls and garbage collections, measured in
docs/profile.md; :mod:`bot.action_fallback`: an apology when the action server fails,
docs/faults.md) used to install themselves when Rasa imported ``bot.channels``, and did nothing
when Rasa's modules were not loaded yet. Now ``bot.runtime`` starts this module, which installs
them before Rasa parses its command line, and stops with :class:`bot.rasa_patches.RasaPatchError`
when one cannot apply (another Rasa version, a changed function). Sanic's workers are forked from
this process, so each has them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rasa.__main__ import main as rasa_main  # what the ``rasa`` command runs

from bot import action_fallback, rasa_speedups
from bot.rasa_patches import check_rasa_version


def install_patches() -> None:
    """Install every patch of Rasa, or raise :class:`bot.rasa_patches.RasaPatchError`."""
    check_rasa_version()
    action_fallback.install()
    rasa_speedups.install()


def main(argv: Sequence[str] | None = None) -> None:
    """``rasa <argv>`` (default: this command's arguments) with the patches installed."""
    install_patches()
    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
