"""Secrets named in the config never reach the log pane or the saved log."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from urllib.parse import quote, quote_plus, urlencode

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from shipdeck.lifecycle.config.schema import parse_config
from shipdeck.lifecycle.masking import SecretMasker, masked_sink, url_password
from shipdeck.lifecycle.ports import Line, Stream


def test_secret_in_a_line_is_masked_everywhere_it_occurs() -> None:
    masker = SecretMasker({"TOKEN": "s3cr3t-token"})
    assert masker.mask("login s3cr3t-token and again s3cr3t-token.") == "login *** and again ***."
    assert masker.mask("nothing to see") == "nothing to see"


def test_longest_secret_wins_so_no_suffix_leaks() -> None:
    # "abc" inside "abcdef": masking the short one first would leave "***def".
    masker = SecretMasker({"SHORT": "abcd", "LONG": "abcdefgh"})
    assert masker.mask("x abcdefgh y abcd z") == "x *** y *** z"


def test_overlapping_secrets_leave_no_fragment() -> None:
    masker = SecretMasker({"A": "abcdef", "B": "defghi"})
    assert masker.mask("<abcdefghi>") == "<***>"
    assert masker.mask("<defghi abcdef>") == "<*** ***>"


def test_a_secret_overlapping_itself_is_masked_whole() -> None:
    # Non-overlapping search would mask "abab" in "ababab" and leave "ab" behind.
    assert SecretMasker({"R": "abab"}).mask("ababab!") == "***!"


def test_empty_and_regex_special_values_are_safe() -> None:
    masker = SecretMasker({"EMPTY": "", "RE": "a.b*c"})
    assert masker.mask("axbbc a.b*c") == "axbbc ***"
    assert not SecretMasker({"EMPTY": ""})
    assert SecretMasker({}).mask("text") == "text"


def test_multi_line_secret_is_masked_line_by_line() -> None:
    masker = SecretMasker({"KEY": "-----BEGIN-----\nMIIEvQIBADANBg\n-----END-----\n"})
    assert masker.mask("MIIEvQIBADANBg") == "***"
    assert masker.mask("-----END-----") == "***"


def test_mask_lines_keeps_streams_and_untouched_lines() -> None:
    masker = SecretMasker({"PW": "hunter22"})
    clean = Line(Stream.STDOUT, "ok")
    lines = [clean, Line(Stream.STDERR, "pw=hunter22"), Line(Stream.INFO, "$ deploy hunter22")]
    out = masker.mask_lines(lines)
    assert out[0] is clean
    assert out[1:] == [Line(Stream.STDERR, "pw=***"), Line(Stream.INFO, "$ deploy ***")]


def test_masked_sink_masks_each_batch() -> None:
    got: list[Sequence[Line]] = []
    sink = masked_sink(got.append, SecretMasker({"PW": "hunter22"}))
    sink([Line(Stream.STDOUT, "hunter22 hunter22")])
    assert got == [[Line(Stream.STDOUT, "*** ***")]]


def test_masked_sink_without_secrets_is_the_sink_itself() -> None:
    got: list[Sequence[Line]] = []
    assert masked_sink(got.append, SecretMasker({"X": ""})) == got.append


def test_encoded_forms_of_a_secret_are_masked_and_short_ones_are_flagged() -> None:
    import base64
    from urllib.parse import quote

    from shipdeck.lifecycle.masking import SecretMasker

    secret = "p@ss word/with+signs"
    masker = SecretMasker({"TOKEN": secret, "PIN": "1234"})
    encoded = base64.b64encode(secret.encode()).decode()
    masked = masker.mask(f"Authorization: Basic {encoded}")
    assert masked.startswith("Authorization: Basic ***") and encoded.rstrip("=") not in masked
    assert secret not in masker.mask(f"?token={quote(secret, safe='')}")
    assert masker.weak == ["PIN"]
    assert masker.scrub({"a": [secret, 3], secret: "x"}) == {"a": ["***", 3], "***": "x"}


def test_the_password_of_a_url_is_found_as_written() -> None:
    assert url_password("postgres://app:pw-1234@db:5432/app") == "pw-1234"
    assert url_password("  redis://:s3cr%40t@cache/0 ") == "s3cr%40t"  # no user, encoded
    assert url_password("https://user@host/x") is None  # a user, no password
    assert url_password("https://host:8443/x") is None  # a port is no password
    assert url_password("see postgres://a:b@c") is None  # a value that is a URL, not prose
    assert url_password("sqlite:///data/app.db") is None


def test_a_secret_url_masks_its_password_wherever_it_goes() -> None:
    """The whole URL is the secret, and its password alone too: an app that prints
    the URL rebuilt, or the password decoded, still shows none of it."""
    masker = SecretMasker({"DATABASE_URL": "postgres://app:p%40ss-word-99@db/app"})
    assert masker.mask("url postgres://app:p%40ss-word-99@db/app") == "url ***"
    assert masker.mask("dsn host=db password=p@ss-word-99") == "dsn host=db password=***"
    assert masker.mask("rebuilt postgresql://app:p%40ss-word-99@db:5432/app") == (
        "rebuilt postgresql://app:***@db:5432/app"
    )


def test_the_passwords_written_into_the_configs_urls_are_secrets() -> None:
    config = parse_config(
        "version: 1\nproject: p\n"
        "stages:\n  test:\n"
        "    - docker_run: {image: t, env: {BROKER: 'amqp://u:broker-pw-1@mq//'}}\n"
        "environments:\n"
        "  staging:\n    run: 'x'\n    port: 8000\n"
        "    env: {DATABASE_URL: 'postgres://app:db-pw-123@db/app', PLAIN: 'http://h/x'}\n"
    )
    assert config.url_passwords() == {
        "staging.DATABASE_URL": "db-pw-123",
        "step 1.BROKER": "broker-pw-1",
    }


def test_the_relay_masks_only_the_password_of_a_url_it_is_told_of(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shipdeck.backends import mask_relay

    monkeypatch.setenv("DATABASE_URL", "postgres://app:relay-pw-42@db/app")
    monkeypatch.setenv("TOKEN", "a-token-value")
    masker = mask_relay._masker([f"DATABASE_URL{mask_relay.PASSWORD_OF}", "TOKEN", "UNSET"])
    assert masker is not None
    line = "to postgres://app:relay-pw-42@db/app with a-token-value"
    assert masker.mask(line) == "to postgres://app:***@db/app with ***"
    assert mask_relay._masker(["UNSET", f"UNSET{mask_relay.PASSWORD_OF}"]) is None


# --- forms found leaking by a stranger's hunt (2026-12-07) ---------------------------

SECRETS = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=8, max_size=40)
AROUND = st.text(st.characters(min_codepoint=32, max_codepoint=0x7E), max_size=12)
# What a display drops or draws as nothing: colours, a clear, cursor moves, OSC titles
# and links (with either terminator).
ESCAPES = st.sampled_from(
    [
        *("\x1b[1m", "\x1b[0m", "\x1b[38;5;196m", "\x1b[2J", "\x1b[H", "\x1b[K", "\x1b[?25l"),
        *("\x1b]0;title\x07", "\x1b]8;;http://x\x1b\\", "\x1b]8;;\x07"),
    ]
)
TEXT = st.text(max_size=30)
SHOWN = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")


@given(SECRETS, AROUND, AROUND, st.lists(st.tuples(st.integers(1, 39), ESCAPES), max_size=4))
@example("hunter2-SECRET-9f8e7d", "[build] ", "", [(7, "\x1b[1m")])
def test_a_secret_cut_by_escape_sequences_is_masked_as_the_screen_shows_it(
    secret: str, before: str, after: str, cuts: list[tuple[int, str]]
) -> None:
    """``hunter2 ESC[1m -SECRET`` reads as the secret on a screen, which drops the
    sequence: it passed every mask (the log pane, the CLI, a health check's stderr in
    the journal and the webhook)."""
    cut = secret
    for at, seq in sorted(cuts, reverse=True):
        at = min(at, len(secret) - 1)  # a place in the secret; descending: still there
        cut = cut[:at] + seq + cut[at:]
    masked = SecretMasker({"TOKEN": secret}).mask(before + cut + after)
    assert "***" in masked
    assert secret not in SHOWN.sub("", masked)


def test_a_colour_begun_inside_a_masked_secret_goes_on_after_the_mask() -> None:
    masker = SecretMasker({"TOKEN": "hunter2-SECRET"})
    assert masker.mask("a hunter2\x1b[1m-SECRET b") == "a ***\x1b[1m b"


@given(st.binary(max_size=5), SECRETS, st.binary(max_size=5))
@example(b"user:", "hunter2-SECRET-9f8e7d", b"")
def test_a_secret_base64_encoded_with_other_bytes_cannot_be_read_back(
    before: bytes, secret: str, after: bytes
) -> None:
    """``Authorization: Basic base64(user:secret)`` passed: only the secret encoded
    alone was masked. What is left unmasked decodes to at most two of its bytes in a
    row at either end."""
    raw = secret.encode()
    encoded = base64.b64encode(before + raw + after).decode()
    masked = SecretMasker({"TOKEN": secret}).mask(f"Authorization: Basic {encoded}")
    assert "***" in masked
    for piece in masked.removeprefix("Authorization: Basic ").split("***"):
        for skip in range(4):  # every alignment the piece could be decoded at
            chunk = piece.rstrip("=")[skip:]
            decoded = base64.b64decode(chunk[: len(chunk) // 4 * 4])
            assert not any(raw[i : i + 3] in decoded for i in range(len(raw) - 2))


@pytest.mark.parametrize(
    "encode",
    [
        quote,  # "/" kept, as quote() does by default
        lambda s: quote(s, safe=""),
        quote_plus,
        lambda s: urlencode({"token": s}).removeprefix("token="),
        lambda s: re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(s)),  # lower hex
        lambda s: json.dumps(s)[1:-1],
        lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    ],
)
def test_a_secret_url_or_json_encoded_as_libraries_write_it_is_masked(encode) -> None:  # type: ignore[no-untyped-def]
    secret = 'Zq9/pa ss+wörd"&x'
    masked = SecretMasker({"ODD": secret}).mask(f"GET /login?token={encode(secret)}&next=1")
    assert "***" in masked and encode(secret) not in masked


@given(
    SECRETS, st.text(max_size=30), st.text(max_size=30), st.lists(st.integers(1, 20), max_size=8)
)
def test_a_secret_cut_by_a_blocks_end_is_masked_whole(
    secret: str, before: str, after: str, sizes: list[int]
) -> None:
    """A service's line longer than the relay's block: a secret across the cut was
    written in two halves, neither masked."""
    masker = SecretMasker({"TOKEN": secret})
    line = before + secret + after
    out, rest, pos = [], "", 0
    for size in [*sizes, len(line)]:
        written, rest = masker.mask_piece(rest + line[pos : pos + size])
        out.append(written)
        pos += size
    out.append(masker.mask(rest))
    assert "".join(out) == masker.mask(line)
