"""The import's pure mapping, over generated inputs: whatever the source holds, what reaches
agentmail obeys agentmail's rules (or is reported as skipped), and times read the same in both
of the source's formats."""

from __future__ import annotations

import datetime

from agentmail_server.admin import mcp_mapping as mapping
from agentmail_server.admin.mcp_source import micros
from agentmail_server.domain import limits, names
from hypothesis import given
from hypothesis import strategies as st

from bench.mcp_fixture import stamp

from .conftest import T0


@given(st.text(max_size=200))
def test_a_mapped_name_is_valid_and_a_valid_name_is_kept(raw):
    mapped = mapping.agent_name(raw)
    if names.is_valid_agent_name(raw):
        assert mapped == raw
    elif mapped is not None:
        assert names.is_valid_agent_name(mapped)
    else:
        assert not any(c.isascii() and c.isalnum() for c in raw)


@given(st.text(max_size=600))
def test_a_subject_always_passes_the_apis_own_check(raw):
    subject, cut = mapping.subject(raw)
    limits.check_length("subject", subject, limits.MAX_SUBJECT_CHARS)  # raises if not
    assert subject.strip()
    assert cut == (len(raw) > limits.MAX_SUBJECT_CHARS)


@given(st.text(max_size=300), st.integers(min_value=1, max_value=200))
def test_single_and_multi_line_text_pass_the_apis_checks(raw, maximum):
    limits.check_length("f", mapping.single_line(raw, maximum), maximum)
    limits.check_length("f", mapping.multi_line(raw, maximum), maximum, multiline=True)


@given(
    st.datetimes(
        min_value=datetime.datetime(1971, 1, 1),
        max_value=datetime.datetime(2200, 1, 1),
        timezones=st.just(datetime.UTC),
    )
)
def test_text_and_integer_times_read_as_the_same_microsecond(moment):
    expected = micros(stamp(moment, "rust"))
    assert expected == micros(stamp(moment, "python"))
    assert expected == micros(moment.isoformat())
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    assert epoch + datetime.timedelta(microseconds=expected) == moment


@given(st.one_of(st.text(max_size=40), st.binary(max_size=40), st.floats(allow_nan=False)))
def test_any_stored_value_reads_as_a_time_or_none(value):
    result = micros(value)
    assert result is None or isinstance(result, int)


def test_digits_other_than_ascii_are_not_microseconds():
    assert micros("²") is None and micros("-12") == -12 and micros("٣") is None


def test_unknown_levels_and_kinds_are_told_apart():
    assert mapping.importance(" HIGH ") is not None and mapping.importance("bogus") is None
    assert mapping.recipient_kind("bcc") is not None and mapping.recipient_kind("fyi") is None
    assert mapping.contact_policy("block_all") is not None
    assert mapping.contact_policy("sometimes") is None
    assert mapping.link_state("approved") is not None and mapping.link_state("maybe") is None
    assert micros(stamp(T0, "python")) == micros(stamp(T0, "rust"))
