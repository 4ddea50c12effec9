import pytest

from cli.main import main


def test_privacy_erase_needs_a_contact(capsys):
    with pytest.raises(SystemExit):
        main(["privacy", "erase"])
    assert "--phone, --email or --sender" in capsys.readouterr().err


def test_privacy_erase_and_purge_and_spool(capsys):
    assert main(["privacy", "erase", "--phone", "06 12345678", "--sender", "abc"]) == 0
    assert "erased: conversations 0" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="not a phone number"):
        main(["privacy", "erase", "--phone", "hello"])
    with pytest.raises(SystemExit, match="not an e-mail address"):
        main(["privacy", "erase", "--email", "jan at example"])
    assert main(["privacy", "purge"]) == 0
    assert "retention 365 days" in capsys.readouterr().out
    assert main(["spool", "replay"]) == 0
    assert "replayed 0 of 0" in capsys.readouterr().out
