"""The public web side: sign-up and confirmation, one-click unsubscribe, provider webhooks.

`digest.web.app.create_app(workspace)` builds the Starlette app that `digest web` serves and the
scheduler service mounts; `digest.web.webhooks` verifies each provider's signatures.
"""
