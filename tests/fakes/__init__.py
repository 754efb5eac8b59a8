"""Fakes for what cannot exist here: AWS endpoints and the Session Manager plugin."""
