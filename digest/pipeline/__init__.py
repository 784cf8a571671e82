"""One issue, end to end: gather -> extract -> select -> summarize -> render -> freeze -> send.

    build      compose_issue: the next issue as a Draft (gather, extract, select, summarize,
               render); nothing stored but caches
    lifecycle  run_period / claim_in_grace / build_claimed / settle_drafts: claim (a firing's
               claim waits out a store outage within the grace window), draft, approve, freeze
    deliver    deliver_issue / resume_unfinished: work a frozen issue's ledger
    preview    write_preview / sample_render: what an editor looks at; nothing stored or sent

Every step's result is stored, so `resume_unfinished` carries on after a crash without
sending anyone the issue twice.
"""

from digest.pipeline.build import (
    Draft,
    ExtractionPlan,
    compose_issue,
    extract_items,
    render_settings,
)
from digest.pipeline.deliver import (
    deliver_issue,
    recipient_factory,
    resume_unfinished,
    stored_rendering,
)
from digest.pipeline.lifecycle import (
    Claim,
    RunReport,
    build_claimed,
    claim_in_grace,
    freeze,
    freeze_and_send,
    run_digest,
    run_period,
    send_approved,
    settle_drafts,
    store_draft,
    sync_lists,
)
from digest.pipeline.preview import sample_recipient, sample_render, write_preview

__all__ = [
    "Claim",
    "Draft",
    "ExtractionPlan",
    "RunReport",
    "build_claimed",
    "claim_in_grace",
    "compose_issue",
    "deliver_issue",
    "extract_items",
    "freeze",
    "freeze_and_send",
    "recipient_factory",
    "render_settings",
    "resume_unfinished",
    "run_digest",
    "run_period",
    "sample_recipient",
    "sample_render",
    "send_approved",
    "settle_drafts",
    "store_draft",
    "stored_rendering",
    "sync_lists",
    "write_preview",
]
