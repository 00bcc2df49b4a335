"""Customer-service mail: recognise it (`collect.run`) and read what the journal keeps about it.

`collect` decides and gathers the facts (`extractors.model.SupportFacts`); `refs` finds ticket
tokens, `quotes` the new text of a reply, `agents` who answered, `promises` what was promised
or asked, and `names` the vocabulary `quotes` and `agents` share.
"""
