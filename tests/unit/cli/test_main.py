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


def test_dealers_check_lists_every_folder_with_the_line_of_each_problem(tmp_path, capsys):
    import shutil

    root = tmp_path / "dealers"
    shutil.copytree("data/dealers/autohuis-demo", root / "autohuis-demo")
    assert main(["dealers", "check", "--dir", str(root)]) == 0
    assert capsys.readouterr().out.startswith("ok      autohuis-demo: Autohuis De Vries (")
    shutil.copytree("data/dealers/autohuis-demo", root / "autohuis-zwolle")
    yml = root / "autohuis-zwolle" / "dealer.yml"
    yml.write_text(yml.read_text().replace("id: autohuis-demo", "id: autohuis-zwolle")
                   .replace('sat: ["10:00", "17:00"]', 'sat: ["10:00", "vijf uur"]'))  # fmt: skip
    line = next(n for n, row in enumerate(yml.read_text().splitlines(), 1) if "vijf uur" in row)
    assert main(["dealers", "check", "--dir", str(root)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ok      autohuis-demo")
    assert out[1].startswith("broken  ") and f"autohuis-zwolle/dealer.yml:{line}" in out[1]
    assert "'vijf uur' is not a time like 09:00" in out[1]


def test_a_database_without_migrations_gives_a_hint_not_a_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEALERBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    assert main(["privacy", "erase", "--sender", "abc"]) == 2
    err = capsys.readouterr().err
    assert err.endswith("is missing migrations.\nrun: dealerbot db upgrade\n")
    assert "Traceback" not in err and "no such table" not in err
    assert main(["db", "upgrade"]) == 0
    assert main(["privacy", "erase", "--sender", "abc"]) == 0


def test_every_command_and_option_has_help_text():
    import argparse

    from cli.main import build_parser

    missing = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helped = {choice.dest for choice in action._choices_actions}
                for name, sub in action.choices.items():
                    if name not in helped:
                        missing.append(f"{path} {name}")
                    walk(sub, f"{path} {name}")
            elif not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(build_parser(), "dealerbot")
    assert missing == []


def test_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"dealerbot {version('dealerbot')}"
