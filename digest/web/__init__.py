"""The web app: sign-up, one-click unsubscribe, the web view of issues, provider webhooks."""

from digest.web.app import create_app

__all__ = ["create_app"]
