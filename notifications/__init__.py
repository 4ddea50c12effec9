"""Staff notifications, customer confirmations and outbound webhooks (issue 19).

The store side (rows, claims) is ``core.store.outbox``; this package renders and sends:
``worker`` (run by the scheduler and ``dealerbot run``), ``content`` (e-mails from Jinja2
templates in the dealer's or customer's language), ``ics`` (calendar invites), ``webhook``
(signed JSON events).
"""
