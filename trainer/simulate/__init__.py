"""The conversation simulator (issue 16): simulated customers who talk to the real stack over
REST and answer whatever the bot asks, generated from templates (a tuning part and a held-out
part), with a report of success per flow and language and an out-of-scope check
(docs/training.md, "Simulated conversations")."""
