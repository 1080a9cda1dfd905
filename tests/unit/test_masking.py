"""Secrets named in the config never reach the log pane or the saved log."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

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
