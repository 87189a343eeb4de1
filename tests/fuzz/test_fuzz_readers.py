"""Arbitrary text and bytes to the pure readers: a value or an error value, never an exception
(besides ``InputError``, which the command line turns into exit 2)."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st
from returns.result import Failure, Success

from models.k8s.codec import decode_numbered, load_yaml_documents
from models.strict_input import InputError, Limits, decode_json, numbered_lines
from models.trace import TraceRecord

YAML_PIECES = st.sampled_from(
    ["apiVersion: v1\n", "kind: Pod\n", "metadata:\n", "  name: x\n", "- ", "&a ", "*a ", "[", "]",
     "{", "}", "---\n", ": ", "!!binary ", "? ", "|\n", "'", '"', "\t", "0x1F", "1e6", "y\n"]
)  # fmt: skip
TRACE_DECODER = msgspec.json.Decoder(TraceRecord)


@given(st.lists(YAML_PIECES | st.text(max_size=5), max_size=40).map("".join))
def test_yaml_text_decodes_or_fails_as_a_value(text: str) -> None:
    assert isinstance(decode_numbered(text), Success | Failure)
    assert isinstance(
        load_yaml_documents(text, Limits(yaml_nodes=500, depth=20)), Success | Failure
    )


@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_json_lines_decode_or_raise_input_error(data: bytes) -> None:
    problem: InputError | None = None
    try:
        for number, line in numbered_lines(data.split(b"\n"), "f", Limits(line_bytes=200)):
            decode_json(TRACE_DECODER, line, "f", line=number)
    except InputError as error:
        problem = error
    assert problem is None or problem.describe().startswith("f:")
