"""Properties of the header toolkit beyond tests/core/test_properties.py: Vary merging keeps
order and case, coalesces, respects "*", and composes; list splitting and lookups agree."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.core import headers as h
from tests.core.strategies import binary

NAMES = st.sampled_from(
    [b"Accept-Encoding", b"accept-encoding", b"Origin", b"ORIGIN", b"Cookie", b"X-Custom"]
)
MEMBER_LISTS = st.lists(NAMES, max_size=4)
VARY_VALUES = st.one_of(
    MEMBER_LISTS.map(b", ".join),
    st.sampled_from([b"*", b"Cookie, *", b"", b" , ,", b"origin,\tCookie"]),
)
OTHERS = st.lists(
    st.tuples(st.sampled_from([b"content-type", b"set-cookie", b"etag"]), binary(max_size=8)),
    max_size=3,
)


@st.composite
def response_headers(draw: st.DrawFn) -> h.Headers:
    others = draw(OTHERS)
    varies = [(b"vary", value) for value in draw(st.lists(VARY_VALUES, max_size=3))]
    out = others + varies
    return draw(st.permutations(out)) if out else out


def _members(headers: h.Headers) -> list[bytes]:
    return [member for value in h.get_all(headers, b"vary") for member in h.split_list(value)]


@settings(max_examples=80)
@given(response_headers(), MEMBER_LISTS)
def test_merge_vary_keeps_existing_members_first_and_in_order(
    headers: h.Headers, names: list[bytes]
) -> None:
    before = _members(headers)
    after = _members(h.merge_vary(headers, names))
    assert after[: len(before)] == before
    if b"*" in before:
        assert h.merge_vary(headers, names) is headers


@settings(max_examples=80)
@given(response_headers(), MEMBER_LISTS)
def test_merge_vary_adds_each_missing_name_once_ignoring_case(
    headers: h.Headers, names: list[bytes]
) -> None:
    before = {member.lower() for member in _members(headers)}
    merged = h.merge_vary(headers, names)
    if b"*" in before:
        return
    added = _members(merged)[len(_members(headers)) :]
    folded = [name.lower() for name in added]
    assert len(folded) == len(set(folded))
    assert set(folded) == {name.lower() for name in names} - before
    # Each added name keeps the spelling it was first given in.
    first = {}
    for name in names:
        first.setdefault(name.lower(), name)
    assert added == [first[name] for name in folded]


@settings(max_examples=80)
@given(response_headers(), MEMBER_LISTS)
def test_merge_vary_coalesces_into_one_field_at_the_first_place(
    headers: h.Headers, names: list[bytes]
) -> None:
    merged = h.merge_vary(headers, names)
    if merged is headers:
        return
    assert len(h.get_all(merged, b"vary")) == 1
    positions = [index for index, (name, _) in enumerate(headers) if name == b"vary"]
    if positions:
        assert merged[positions[0]][0] == b"vary"
    assert headers is not merged


@settings(max_examples=50)
@given(response_headers(), MEMBER_LISTS, MEMBER_LISTS)
def test_merge_vary_composes(headers: h.Headers, first: list[bytes], second: list[bytes]) -> None:
    twice = h.merge_vary(h.merge_vary(headers, first), second)
    once = h.merge_vary(headers, first + second)
    assert [m.lower() for m in _members(twice)] == [m.lower() for m in _members(once)]


@settings(max_examples=50)
@given(response_headers(), MEMBER_LISTS)
def test_merge_vary_never_mutates_its_input(headers: h.Headers, names: list[bytes]) -> None:
    copy = list(headers)
    h.merge_vary(headers, names)
    assert headers == copy


@settings(max_examples=50)
@given(st.lists(binary(max_size=10).filter(lambda b: b"," not in b), max_size=6))
def test_split_list_reads_back_a_joined_list(items: list[bytes]) -> None:
    value = b", ".join(items)
    assert h.split_list(value) == [item.strip(b" \t") for item in items if item.strip(b" \t")]


@settings(max_examples=50)
@given(st.lists(st.tuples(st.sampled_from([b"a", b"b", b"c"]), binary(max_size=6))))
def test_lookups_agree(headers: h.Headers) -> None:
    for name in (b"a", b"b", b"c"):
        values = h.get_all(headers, name)
        assert h.has(headers, name) == bool(values)
        assert h.get(headers, name) == (values[0] if values else None)
        assert h.get_list(headers, name) == (b", ".join(values) if values else None)
        replaced = h.replace(headers, name, b"new")
        assert h.get_all(replaced, name) == [b"new"]
        assert h.without(replaced, name) == h.without(headers, name)


@given(OTHERS, st.lists(VARY_VALUES, max_size=1))
def test_merge_vary_with_nothing_to_add_changes_nothing(
    others: h.Headers, varies: list[bytes]
) -> None:
    headers = others + [(b"vary", value) for value in varies]
    assert h.merge_vary(headers, ()) is headers
