"""A local stand-in for the email providers' HTTP APIs, faithful enough to test senders against.

It serves the Postmark, SendGrid, Mailgun, Resend and SES v2 send routes as the providers
document them (providers.md, in the shared folder beside the checkout, sums them up): it
checks credentials (SES: the SigV4 signature is recomputed with botocore), required fields and
limits, answers with each provider's success
and error bodies and headers, records every accepted message per recipient with deliverability
warnings, replays Resend answers for a repeated `Idempotency-Key`, and injects faults on demand.

Drive it in-process through `SandboxState` (see `add_fault`, `set_inactive`, `messages`) or over
HTTP from another process:

    POST   /_sandbox/faults     {"faults": [{"kind": "status", "status": 429, "times": 2}],
                                 "inactive": ["a@x.org"], "invalid": [...],
                                 "ses_bulk_status": {"b@x.org": "MESSAGE_REJECTED"}}
    GET    /_sandbox/faults     DELETE /_sandbox/faults   (clears faults and address lists)
    GET    /_sandbox/messages?provider=postmark&to=a@x.org&brief=1
    DELETE /_sandbox/messages   POST /_sandbox/reset      GET /_sandbox/stats   GET /_sandbox/config

Fault shapes: `times` (the next N matching requests), `every` (every Kth), `on_request` (only
the Nth), counted per fault from when it was added; `kind` is `status` (answer that status with
the provider's error body; 429 adds `Retry-After` when `retry_after` is set and the provider's
rate-limit headers when `rate_headers`), `drop` (close the connection without answering) or
`delay` (answer normally after `delay` seconds); any kind may wait `delay` first. With
`after: true` the request is processed and recorded first, then the fault hits the answer:
the "provider accepted it but we never heard back" case. Faults hit sends unless `on: "search"`.

Searches of what was accepted, as the providers document them, for senders that reconcile a
batch whose answer was lost: Postmark's outbound message search (`GET /messages/outbound`,
filtered by `recipient`, `tag`, `metadata_<key>`...) and Mailgun's events API
(`GET /v3/{domain}/events`, `accepted` events with each message's `user-variables`, paged).

Run standalone: `python -m digest.testing.sandbox --port 8025`.

    state.py      the limits enforced, the faults injected, the messages accepted
    answers.py    JSON answers, the providers' error shapes, message ids
    common.py     address checks, deliverability lint, JSON answers, the Contract base class
    postmark.py, sendgrid.py, mailgun.py, resend.py, ses.py   one provider's contract each
    app.py        the plumbing every route shares, the control routes, running the server
"""

from digest.testing.sandbox.app import RunningSandbox, Sandbox, create_app, main, run_sandbox
from digest.testing.sandbox.common import Contract, lint
from digest.testing.sandbox.state import AcceptedMessage, Fault, SandboxConfig, SandboxState

__all__ = [
    "AcceptedMessage",
    "Contract",
    "Fault",
    "RunningSandbox",
    "Sandbox",
    "SandboxConfig",
    "SandboxState",
    "create_app",
    "lint",
    "main",
    "run_sandbox",
]
