import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher


@pytest.fixture(scope="session")
def domain() -> dict:
    from rasa.shared.core.domain import Domain

    return Domain.load("bot/domain").as_dict()


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture
def run(dispatcher, domain):
    """Run an action like the action server does; returns its events."""

    def _run(action, tracker):
        return asyncio.run(action.run(dispatcher, tracker, domain))

    return _run
