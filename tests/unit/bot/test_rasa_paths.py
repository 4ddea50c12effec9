"""Rasa's commands work with no flags from the repo root: `rasa train`, `rasa shell`, `rasa run`,
`rasa test` and `rasa data validate` find the config, the whole domain (bot/domain/ through the
`domain.yml` link), the data, the endpoints and the credentials where Rasa looks by default."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from rasa.cli.utils import get_validated_path
from rasa.shared.constants import (
    DEFAULT_CONFIG_PATH,
    DEFAULT_CREDENTIALS_PATH,
    DEFAULT_DATA_PATH,
    DEFAULT_DOMAIN_PATH,
    DEFAULT_ENDPOINTS_PATH,
)
from rasa.shared.core.domain import Domain

from bot.runtime import REPO_ROOT


@pytest.fixture
def in_repo_root(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)


def test_rasa_train_resolves_the_full_domain_config_and_data(in_repo_root):
    # as rasa/cli/train.py does it: a missing domain would quietly train an NLU model only
    domain = get_validated_path(None, "domain", DEFAULT_DOMAIN_PATH, none_is_valid=True)
    config = get_validated_path(None, "config", DEFAULT_CONFIG_PATH, none_is_valid=True)
    data = get_validated_path(None, "data", DEFAULT_DATA_PATH, none_is_valid=True)
    assert (domain, config, data) == ("domain.yml", "config.yml", "data")
    assert Path(domain).resolve() == (REPO_ROOT / "bot" / "domain").resolve()
    loaded = Domain.load(domain)
    split = [
        yaml.safe_load(p.read_text()) for p in sorted((REPO_ROOT / "bot/domain").glob("*.yml"))
    ]
    intents = {
        i if isinstance(i, str) else next(iter(i)) for d in split for i in d.get("intents", [])
    }
    responses = {r for d in split for r in d.get("responses", {})}
    forms = {f for d in split for f in d.get("forms", {})}
    assert intents <= set(loaded.intents)
    assert responses <= set(loaded.responses)
    assert forms <= set(loaded.form_names)
    assert len(split) > 1 and loaded.session_config.session_expiration_time > 0


def test_rasa_run_and_shell_find_the_endpoints_and_the_credentials(in_repo_root):
    endpoints = get_validated_path(None, "endpoints", DEFAULT_ENDPOINTS_PATH, none_is_valid=True)
    credentials = get_validated_path(None, "credentials", DEFAULT_CREDENTIALS_PATH, True)
    assert (endpoints, credentials) == ("endpoints.yml", "credentials.yml")
    assert "action_endpoint" in yaml.safe_load(Path(endpoints).read_text())
    channels = yaml.safe_load(Path(credentials).read_text())
    assert "bot.channels.rest.GuardedRestInput" in channels
    assert not (REPO_ROOT / "bot" / "credentials.yml").exists()
    assert not (REPO_ROOT / "bot" / "endpoints.yml").exists()


def test_domain_yml_is_a_relative_link_to_bot_domain():
    link = REPO_ROOT / "domain.yml"
    assert link.is_symlink() and os.readlink(link) == "bot/domain"
