"""The IMAP poller: one more source feeding the same pipeline as `subtrail import`.

- `connect`: TCP, TLS (verified, or pinned), password or XOAUTH2 login (`oauth`).
- `folders`: configured folders, or INBOX plus the `\\Sent` special-use folder.
- `sync`: one folder, read-only and crash-safe (the checkpoint shares the batch's transaction).
- `poller`: `poll_once` and the daemon (IDLE, polling with jitter, backoff, clean stop).
- `check`: what `subtrail check` says about each account.
- `state`: the poller's rows (`sync_state`, `pending_bodies`, `poll_runs`).
"""
