"""Search text and the query language: what a message is matched as, and what a query asks (no database)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messaging.store.search.query import QueryError, matches, needle_for_phrase, needle_for_term, parse
from messaging.store.search.snippets import matches_in, score, snippet
from messaging.store.search.text import fold, search_text, words

# Pure functions over strings: no database, layer, cache or storage (run once, on the embedded default).
pytestmark = pytest.mark.stack_independent

#: text as people type it: every script, emoji with modifiers and joiners, marks, punctuation
typed = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80) | st.sampled_from(
    ["Déployé à 10:30", "東京都庁", "ｶﾞｶﾞ", "Straße", "👍🏽🎉", "e-mail", "ÉCOLE école", "ёлка"]
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Déployé à 10:30, ok?", " deploye a 10 30 ok "),
        ("Straße ЁЛКА", " strasse елка "),
        ("東京に行く", " 東 京 に 行 く "),
        ("ｶﾞ and ガ", " カ\u3099 and カ\u3099 "),
        ("👍🏽 great ❤️", " 👍 great ❤ "),
        ("snake_case e-mail", " snake case e mail "),
        ("ﬁle ＡＢＣ ①", " file abc 1 "),
        ("", " "),
        ("?!…", " "),
    ],
)
def test_search_text_folds_case_accents_and_widths_and_spaces_out_cjk(text: str, expected: str) -> None:
    assert search_text(text) == expected


@given(typed)
def test_folding_is_idempotent_and_keeps_an_origin_for_every_character(text: str) -> None:
    folded = fold(text)
    assert search_text(text) == folded.text
    assert search_text(folded.text) == folded.text
    assert len(folded.origin) == len(folded.text)
    assert folded.text.startswith(" ") and folded.text.endswith(" ") and "  " not in folded.text
    assert all((o == -1) == (c == " ") for o, c in zip(folded.origin, folded.text, strict=True))


@pytest.mark.parametrize(
    ("term", "needle"),
    [
        ("ploy", "ploy"),  # 3+ letters: anywhere inside a word
        ("go", " go "),  # 1-2 letters: a whole word
        ("東京", " 東 京 "),  # characters of unspaced scripts: each a word
        ("e-mail", " e mail"),  # punctuation inside: a phrase; the long end stays open
        ("deplo*", " deplo"),  # a prefix: anchored at a word start
        ("東*", " 東 "),
        ("Éco*", " eco"),
    ],
)
def test_a_term_becomes_the_needle_its_rule_says(term: str, needle: str) -> None:
    found = needle_for_term(term)
    assert found is not None and found.text == needle


def test_a_phrase_is_whole_words_in_order_and_operators_are_filters() -> None:
    query = parse('"Exact  Phrase" from:me from:@bob in:"Trip 2026" after:2026-11-01 before:2026-11-30', me="alice")
    assert [n.text for n in query.needles] == [" exact phrase "]
    assert query.senders == ["alice", "bob"] and query.conversations == ["Trip 2026"]
    assert query.after.isoformat() == "2026-11-01T00:00:00+00:00"
    assert query.before.isoformat() == "2026-11-30T00:00:00+00:00"


def test_dates_are_days_of_the_searchers_time_zone() -> None:
    query = parse("on:2026-11-15", me="alice", time_zone="Asia/Tokyo")
    assert query.after.isoformat() == "2026-11-15T00:00:00+09:00"
    assert query.before.isoformat() == "2026-11-16T00:00:00+09:00"


@pytest.mark.parametrize(
    "text",
    ["d*", "before:yesterday", "after:2026-13-01", "from:", "has:link", "on:2026-11-15T10:00"],
)
def test_what_cannot_be_searched_is_a_query_error_that_says_why(text: str) -> None:
    with pytest.raises(QueryError):
        parse(text, me="alice")


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ('unbalanced "quote here', ["unbalanced", " quote here "]),
        ("NEAR(a b) AND ^x", ["near a ", " b ", "and", " x "]),
        ("foo:bar http://x.com", ["foo bar", "http x com"]),
        ('col:"x" OR -y', ["col x ", " or ", " y "]),
        ('* ** ""', []),
    ],
)
def test_database_syntax_and_unknown_operators_are_searched_as_text(text: str, needles: list[str]) -> None:
    assert [n.text for n in parse(text, me="alice").needles] == needles


@given(st.text(max_size=300))
def test_any_query_parses_or_fails_with_a_query_error(text: str) -> None:
    try:
        query = parse(text, me="alice")
    except QueryError:
        return
    for needle in query.needles:
        assert len(needle.text) >= 3, "every needle is long enough for a trigram index"
        assert '"' not in needle.text and needle.text == " ".join(needle.text.split(" "))


@given(typed, typed)
@settings(max_examples=100)
def test_a_message_matches_its_own_words_and_the_highlights_cover_them(message: str, extra: str) -> None:
    content = f"{message} {extra}"
    found = words(content)
    if not found:
        return
    query = parse(found[len(found) // 2], me="alice")
    assert matches(search_text(content), query)
    spans = matches_in(content, query.needles)
    assert spans, "a matching message has something to highlight"
    for start, end in spans:
        assert 0 <= start < end <= len(content)
        assert query.needles[0].text.strip() in search_text(content[start:end]) or len(spans) > 1


def test_a_snippet_is_cut_around_the_first_match_with_offsets_into_its_text() -> None:
    content = "word " * 60 + "the Déploiement went fine " + "tail " * 40
    cut = snippet(content, parse("deploiement", me="a").needles, length=80)
    start, end = cut.highlights[0]
    assert cut.text[start:end] == "Déploiement"
    assert cut.cut_start and cut.cut_end and len(cut.text) <= 80


def test_whole_words_rank_above_word_starts_above_pieces_of_words() -> None:
    needles = parse("test", me="a").needles
    assert (
        score(search_text("a test"), needles)
        > score(search_text("testing"), needles)
        > score(search_text("latest"), needles)
    )


def needles_of(text: str) -> list:
    return parse(text, me="a").needles


def test_a_snippet_starts_lead_code_points_before_the_match_at_the_start_of_a_word() -> None:
    content = "alpha " * 20 + "needle" + " omega" * 40  # the needle at 120..126
    cut = snippet(content, needles_of("needle"), length=80)
    # 120 - LEAD (40) is 80, inside "alpha"; the window backs up to the word's start, 78
    assert (cut.text, cut.highlights) == (content[78:158], ((42, 48),))
    assert (cut.cut_start, cut.cut_end) == (True, True)


def test_a_snippet_backs_up_at_most_eleven_code_points_to_find_a_word_start() -> None:
    # the needle at 101: 101 - LEAD is 61; a word starting 12 code points before (at 49, after a space
    # at 48) is too far, one starting 11 before (at 50) is not
    too_far = "x" * 48 + " " + "y" * 51 + " needle " + "z" * 100
    near = "x" * 49 + " " + "y" * 50 + " needle " + "z" * 100
    assert snippet(too_far, needles_of("needle"), length=80).text == too_far[61:141]
    assert snippet(near, needles_of("needle"), length=80).text == near[50:130]


def test_a_match_near_the_end_fills_the_window_with_what_comes_before_it() -> None:
    content = "word " * 60 + "needle end"
    cut = snippet(content, needles_of("needle"), length=80)
    assert (cut.text, cut.cut_start, cut.cut_end) == (content[-80:], True, False)
    assert cut.highlights == ((70, 76),)


def test_only_the_matches_inside_the_window_are_highlighted() -> None:
    content = "needle " + "x " * 100 + "needle"
    cut = snippet(content, needles_of("needle"), length=80)
    assert (cut.text, cut.highlights) == (content[:80], ((0, 6),))


def test_a_match_starting_right_at_the_window_end_is_not_highlighted() -> None:
    content = "needle" + " " * 74 + "needle" + " tail" * 10  # the second at 80, where the window ends
    assert snippet(content, needles_of("needle"), length=80).highlights == ((0, 6),)


def test_a_long_message_without_needles_shows_its_start() -> None:
    content = "x " * 200
    cut = snippet(content, [], length=80)
    assert (cut.text, cut.highlights, cut.cut_start, cut.cut_end) == (content[:80], (), False, True)


def test_a_short_message_is_shown_whole_and_not_marked_cut() -> None:
    cut = snippet("the needle here", needles_of("needle"), length=80)
    assert (cut.text, cut.highlights, cut.cut_start, cut.cut_end) == ("the needle here", ((4, 10),), False, False)


@pytest.mark.parametrize(
    ("text", "query", "expected"),
    [
        ("a test", "test", 3.0),
        ("testing", "test", 2.0),
        ("latest", "test", 1.0),
        ("alpha beta", "alpha beta", 6.0),  # each needle adds its own
        ("test test", "test", 3.1),  # a little per repeat
        ("test test test test test test", "test", 3.3),  # up to three repeats
    ],
)
def test_a_score_is_each_needle_s_best_occurrence_plus_a_tenth_per_repeat_up_to_three(
    text: str, query: str, expected: float
) -> None:
    assert score(search_text(text), needles_of(query)) == expected


def test_a_snippet_near_the_start_backs_up_to_the_very_start_when_no_space_comes_first() -> None:
    content = "a" * 45 + " needle " + "z" * 200  # the needle at 46: 46 - LEAD is 6, and no space before it
    assert snippet(content, needles_of("needle"), length=80).text == content[:80]


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("from:", "'from:' needs a value, e.g. from:alice"),
        ("has:link", "'has:' knows attachment, not 'link'"),
        (
            "after:2026-13-01",
            "'after:' needs a date like after:2026-11-01 (or a time with its offset), not '2026-13-01'",
        ),
    ],
)
def test_a_query_error_names_the_operator_and_what_it_takes(text: str, detail: str) -> None:
    with pytest.raises(QueryError) as refused:
        parse(text, me="alice")
    assert str(refused.value) == detail


def test_repeated_date_operators_keep_the_narrowest_span_whatever_their_order() -> None:
    query = parse("after:2026-03-01 after:2026-01-01 before:2026-06-01 before:2026-12-01", me="alice")
    assert (query.after.isoformat(), query.before.isoformat()) == (
        "2026-03-01T00:00:00+00:00",
        "2026-06-01T00:00:00+00:00",
    )


def test_a_date_operator_with_a_time_and_its_offset_is_that_moment() -> None:
    assert parse("after:2026-11-15T10:00+02:00", me="alice").after.isoformat() == "2026-11-15T10:00:00+02:00"


def test_a_query_describes_what_it_understood_under_each_operators_name() -> None:
    import datetime

    query = parse(
        '"Exact Phrase" lantern from:me in:Trip has:attachment after:2026-03-01 before:2026-06-01', me="alice"
    )
    utc = datetime.UTC
    assert query.describe() == {
        "terms": ['"Exact Phrase"', "lantern"],
        "from": ["alice"],
        "in": ["Trip"],
        "has": ["attachment"],
        "after": datetime.datetime(2026, 3, 1, tzinfo=utc),
        "before": datetime.datetime(2026, 6, 1, tzinfo=utc),
    }


@pytest.mark.parametrize(("term", "text"), [("ab*", " ab"), ("e-mail*", " e mail"), ("deploy*", " deploy")])
def test_a_prefix_of_two_letters_or_more_is_a_needle_open_at_its_end_that_keeps_its_term(term: str, text: str) -> None:
    found = needle_for_term(term)
    assert found is not None and (found.text, found.term) == (text, term)


def test_a_prefix_of_one_letter_is_refused_saying_so() -> None:
    with pytest.raises(QueryError) as refused:
        needle_for_term("a*")
    assert str(refused.value) == "a prefix needs at least 2 letters before the '*': 'a*'"


def test_matches_that_touch_are_one_highlight() -> None:
    assert matches_in("東京", [needle_for_term("東"), needle_for_term("京")]) == [(0, 2)]


def test_matches_that_overlap_are_one_highlight_from_the_first_ones_start() -> None:
    assert matches_in("hello world", [needle_for_phrase("hello world"), needle_for_term("world")]) == [(0, 11)]


def test_a_snippets_payload_names_its_text_highlights_and_both_cuts() -> None:
    found = snippet("word " * 60, [needle_for_term("word")], length=20)
    assert found.payload() == {
        "text": "word word word word ",
        "highlights": [[0, 4], [5, 9], [10, 14], [15, 19]],
        "cut_start": False,
        "cut_end": True,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [("日本a", " 日 本 a "), ("ok東京", " ok 東 京 "), ("hi😀there", " hi 😀 there ")],
)
def test_a_word_beside_a_character_of_a_script_without_spaces_is_a_word_of_its_own(text: str, expected: str) -> None:
    assert search_text(text) == expected


@pytest.mark.parametrize(("text", "expected"), [("½", " 1 2 "), ("℅ ok", " c o ok "), ("⑴", " 1 ")])
def test_a_character_that_folds_to_words_around_a_separator_keeps_every_word(text: str, expected: str) -> None:
    assert search_text(text) == expected


def test_a_character_folding_to_a_mark_then_a_letter_keeps_the_letter_when_the_mark_has_nothing_to_attach_to() -> None:
    # Thai SARA AM decomposes to NIKHAHIT (a mark) and SARA AA (a letter).
    assert search_text("\u0e33") == " \u0e32 "
    assert search_text("\u0e19\u0e33") == " \u0e19\u0e4d \u0e32 "
