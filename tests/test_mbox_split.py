"""The block-wise mbox reader splits exactly as the line-by-line reading it replaced.

`reference_split` is that first reader, kept here as the specification: a message starts at a
'From ' line following a blank line (or the file start), its bytes are the lines up to the next
separator without the blank line before it, and a message over the size limit is reported.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.pipeline import sources
from ingest.pipeline.sources import RawMail, SourceProblem, iter_mbox


def reference_split(data: bytes, limit: int) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    lines: list[bytes] = []
    size, too_big, previous_blank, started = 0, False, True, False

    def close() -> None:
        if too_big:
            out.append(("problem", size))
            return
        kept = lines[:-1] if lines and lines[-1] in (b"\n", b"\r\n") else lines
        out.append(("raw", b"".join(kept)))

    for line in _lf_lines(data):
        if line.startswith(b"From ") and previous_blank:
            if started:
                close()
            started, lines, size, too_big, previous_blank = True, [], 0, False, False
            continue
        previous_blank = line in (b"\n", b"\r\n")
        if not started:
            continue
        size += len(line)
        if size > limit:
            too_big, lines = True, []
        elif not too_big:
            lines.append(line)
    if started:
        close()
    return out


def _lf_lines(data: bytes) -> list[bytes]:
    """Lines as a binary file yields them: split after each '\\n' only."""
    parts = data.split(b"\n")
    lines = [p + b"\n" for p in parts[:-1]]
    return lines + ([parts[-1]] if parts[-1] else [])


def split(path: Path, block: int) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for item in iter_mbox(path, block=block):
        if isinstance(item, RawMail):
            out.append(("raw", item.raw))
        else:
            assert isinstance(item, SourceProblem)
            out.append(("problem", int(item.error.split()[2])))
    return out


TOKENS = [
    b"From ",
    b"From x\n",
    b"\n",
    b"\r\n",
    b"\r",
    b"x",
    b"abc ",
    b">From ",
    b"\n\nFrom a\n",
    b"\r\n\r\nFrom ",
]


@settings(max_examples=600, deadline=None)
@given(
    data=st.lists(st.sampled_from(TOKENS), max_size=40).map(b"".join),
    block=st.integers(min_value=1, max_value=40),
    limit=st.sampled_from([3, 10, 40, 10**9]),
)
def test_block_reader_splits_like_the_line_reader(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, block: int, limit: int
) -> None:
    path = tmp_path_factory.mktemp("mbox") / "all.mbox"
    path.write_bytes(data)
    original = sources.MAX_MESSAGE_BYTES
    sources.MAX_MESSAGE_BYTES = limit
    try:
        assert split(path, block) == reference_split(data, limit)
    finally:
        sources.MAX_MESSAGE_BYTES = original


def test_block_reader_on_a_generated_mbox_at_every_small_block_size(tmp_path: Path) -> None:
    from bench.mailgen import write_mbox

    path = tmp_path / "gen.mbox"
    write_mbox(path, 30, seed=4)
    expected = reference_split(path.read_bytes(), sources.MAX_MESSAGE_BYTES)
    assert len(expected) == 30
    for block in (1, 7, 64, 4096, sources.MBOX_BLOCK):
        assert split(path, block) == expected, block
