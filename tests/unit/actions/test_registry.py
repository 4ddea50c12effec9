from rasa_sdk.executor import ActionExecutor


def test_every_custom_action_in_the_domain_is_served_and_vice_versa(domain):
    executor = ActionExecutor()
    executor.register_package("actions")
    custom = {a for a in domain["actions"] if a.startswith(("action_", "validate_"))}
    assert set(executor.actions) == custom
