"""The patches of Rasa are installed by the Rasa server's launcher, not by importing the channels,
and refuse loudly to apply to a Rasa they were not written for."""

import subprocess
import sys

import pytest
import rasa.core.run
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_patches import MARK, WRITTEN_FOR, RasaPatchError, check_rasa_version, patch
from bot.rasa_server import install_patches
from tests.conftest import REPO


def test_the_launcher_installs_every_patch():
    install_patches()
    for patched in (RemoteAction.run, RemoteAction._validate_action_result,
                    EndpointConfig.session, rasa.core.run.configure_app):  # fmt: skip
        assert getattr(patched, MARK, False), patched
    run = RemoteAction.run
    install_patches()
    assert RemoteAction.run is run  # once


def test_importing_the_channels_patches_nothing():
    check = (
        "import rasa.core.actions.action as a, rasa.core.run as r, bot.channels\n"
        f"assert not getattr(a.RemoteAction.run, {MARK!r}, False)\n"
        f"assert not getattr(a.RemoteAction._validate_action_result, {MARK!r}, False)\n"
        f"assert not getattr(r.configure_app, {MARK!r}, False)\n"
    )
    done = subprocess.run([sys.executable, "-c", check], cwd=REPO, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_patches_were_written_for_the_locked_rasa():
    locked = (REPO / "requirements.lock").read_text().splitlines()
    assert f"rasa=={WRITTEN_FOR}" in locked
    check_rasa_version()  # the installed Rasa


@pytest.mark.parametrize("version", ["3.7.0", "3.6.20", "4.0.0"])
def test_another_rasa_version_is_refused(version):
    with pytest.raises(RasaPatchError, match=f"Rasa {version} is installed.*written for Rasa"):
        check_rasa_version(version)


class Rasa:
    def run(self, output_channel, nlg, tracker, domain):  # noqa: ANN001, ANN201
        return "rasa"


def wrap(original):  # noqa: ANN001, ANN201
    return lambda *args: ("patched", original(*args))


def test_a_patch_applies_once():
    patch(Rasa, "run", ("self", "output_channel", "nlg", "tracker", "domain"), wrap)
    patch(Rasa, "run", ("self", "output_channel", "nlg", "tracker", "domain"), wrap)
    assert Rasa().run(1, 2, 3, 4) == ("patched", "rasa")


def test_a_changed_function_is_refused():
    class Changed:
        def run(self, output_channel, tracker, domain):  # noqa: ANN001, ANN201 - nlg is gone
            return "rasa"

    with pytest.raises(RasaPatchError, match=r"Changed.run takes \(self, output_channel, tracker"):
        patch(Changed, "run", ("self", "output_channel", "nlg", "tracker", "domain"), wrap)
    assert Changed().run(1, 2, 3) == "rasa"  # untouched


def test_a_missing_function_is_refused():
    class Gone:
        pass

    with pytest.raises(RasaPatchError, match="Gone.run is not in Rasa"):
        patch(Gone, "run", ("self",), wrap)


def test_another_version_is_refused_before_anything_is_patched():
    class Other:
        def run(self, output_channel, nlg, tracker, domain):  # noqa: ANN001, ANN201
            return "rasa"

    with pytest.raises(RasaPatchError, match="Rasa 3.7.0 is installed"):
        patch(Other, "run", ("self", "output_channel", "nlg", "tracker", "domain"), wrap,
              version="3.7.0")  # fmt: skip
    assert Other().run(1, 2, 3, 4) == "rasa"
