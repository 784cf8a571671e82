"""Provider feedback: verify each provider's webhook the way it signs it, then read its events.

Every verifier raises `Rejected` (a 4xx status and a reason) and changes nothing; only a verified
request is parsed into `Feedback` items, which `routes.apply_feedback` applies to the store:

    postmark.py   HTTP basic auth (Postmark signs nothing)
    sendgrid.py   ECDSA P-256 / SHA-256 over timestamp + raw body, base64 DER signature
    mailgun.py    HMAC-SHA256(signing key, timestamp + token), hex; replays known by event id
    resend.py     Svix: HMAC-SHA256(base64 secret, "id.timestamp.body"), base64, "v1,<sig>" list
    ses.py        SNS envelope, RSA signature (v1 SHA1, v2 SHA256) by a certificate fetched over
                  HTTPS from an allow-listed host, topic ARN allow-listed
    routes.py     the endpoint: POST /webhooks/{provider}
"""

from digest.web.webhooks.common import Feedback, Kind, Rejected
from digest.web.webhooks.mailgun import parse_mailgun, verify_mailgun
from digest.web.webhooks.postmark import parse_postmark, verify_postmark
from digest.web.webhooks.resend import parse_resend, svix_key, verify_svix
from digest.web.webhooks.routes import WebhookRoutes, apply_feedback
from digest.web.webhooks.sendgrid import load_sendgrid_key, parse_sendgrid, verify_sendgrid
from digest.web.webhooks.ses import SnsVerifier, host_allowed, parse_ses, sns_string_to_sign

__all__ = [
    "Feedback",
    "Kind",
    "Rejected",
    "SnsVerifier",
    "WebhookRoutes",
    "apply_feedback",
    "host_allowed",
    "load_sendgrid_key",
    "parse_mailgun",
    "parse_postmark",
    "parse_resend",
    "parse_sendgrid",
    "parse_ses",
    "sns_string_to_sign",
    "svix_key",
    "verify_mailgun",
    "verify_postmark",
    "verify_sendgrid",
    "verify_svix",
]
