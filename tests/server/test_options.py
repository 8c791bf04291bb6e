"""Tests for the options of ``p2plab-server``: flags, environment, help, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    load_pem_private_key,
)
from p2plab_server import Settings
from p2plab_server.cli import build_parser, main

from .clients import self_signed

# Each option of the settings: its flag, its environment variable, a value
# to give it, and the value parsed.
SETTINGS_OPTIONS = [
    ("--ping-interval", "P2PLAB_PING_INTERVAL", "2.5", 2.5),
    ("--ping-timeout", "P2PLAB_PING_TIMEOUT", "3", 3.0),
    ("--close-timeout", "P2PLAB_CLOSE_TIMEOUT", "1", 1.0),
    ("--hold", "P2PLAB_HOLD", "0", 0.0),
    ("--queue", "P2PLAB_QUEUE", "7", 7),
    ("--max-frame", "P2PLAB_MAX_FRAME", "4096", 4096),
    ("--rate", "P2PLAB_RATE", "12.5", 12.5),
    ("--burst", "P2PLAB_BURST", "30", 30),
    ("--room-users", "P2PLAB_ROOM_USERS", "40", 40),
    ("--server-users", "P2PLAB_SERVER_USERS", "400", 400),
]

OTHER_OPTIONS = [
    ("--host", "P2PLAB_HOST", "0.0.0.0", "0.0.0.0"),
    ("--port", "P2PLAB_PORT", "9000", 9000),
    ("--cert", "P2PLAB_TLS_CERT", "lab.pem", "lab.pem"),
    ("--key", "P2PLAB_TLS_KEY", "lab.key", "lab.key"),
    ("--db", "P2PLAB_DB", "x.sqlite3", "x.sqlite3"),
    ("--log-level", "P2PLAB_LOG_LEVEL", "DEBUG", "DEBUG"),
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test with no P2PLAB_ variable that the parser reads."""
    for _flag, env, _text, _value in SETTINGS_OPTIONS + OTHER_OPTIONS:
        monkeypatch.delenv(env, raising=False)
    monkeypatch.delenv("P2PLAB_ORIGINS", raising=False)


def help_text(capsys: pytest.CaptureFixture[str]) -> str:
    """Return what ``p2plab-server --help`` prints."""
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    return capsys.readouterr().out


def test_help_groups_the_options_and_names_every_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--help shows the groups, every flag with its variable, and the defaults."""
    text = help_text(capsys)
    for group in (
        "where it listens:",
        "directory of names and keys:",
        "liveness and offline users:",
        "limits:",
        "logging:",
    ):
        assert group in text
    for flag, env, _text, _value in SETTINGS_OPTIONS + OTHER_OPTIONS:
        assert flag in text and env in text
    assert "P2PLAB_ORIGINS" in text
    assert "default 15" in text and "default 50" in text


def test_help_gives_examples_a_teacher_can_copy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--help ends with examples: a classroom, TLS, origins, the environment, health."""
    text = help_text(capsys)
    examples = text[text.index("examples:") :]
    for command in (
        "p2plab-server --host 0.0.0.0\n",
        "--cert lab.pem --key lab.key",
        "--origin https://lab.example.org",
        "P2PLAB_PORT=9000",
        "/health",
    ):
        assert command in examples


@pytest.mark.parametrize(
    ("flag", "env", "text", "value"),
    SETTINGS_OPTIONS + OTHER_OPTIONS,
    ids=[option[0] for option in SETTINGS_OPTIONS + OTHER_OPTIONS],
)
def test_each_option_reads_its_variable_and_the_flag_wins(
    monkeypatch: pytest.MonkeyPatch, flag: str, env: str, text: str, value: Any
) -> None:
    """An option is read from its P2PLAB_ variable; the command line overrides it."""
    attribute = flag[2:].replace("-", "_")
    monkeypatch.setenv(env, text)
    assert getattr(build_parser().parse_args([]), attribute) == value
    other = "DEBUG" if flag == "--log-level" else text
    given = build_parser().parse_args([flag, other])
    assert getattr(given, attribute) == value
    if flag != "--log-level":
        monkeypatch.setenv(env, "1")
        assert getattr(build_parser().parse_args([flag, text]), attribute) == value


def test_origin_may_be_repeated() -> None:
    """Each --origin adds one allowed origin (P2PLAB_ORIGINS: see test_cli)."""
    args = build_parser().parse_args(
        ["--origin", "https://a.example", "--origin", "null"]
    )
    assert args.origin == ["https://a.example", "null"]


def test_the_defaults_are_the_settings_defaults() -> None:
    """With no flag and no variable, every setting has the Settings default."""
    args = build_parser().parse_args([])
    default = Settings()
    for flag, _env, _text, _value in SETTINGS_OPTIONS:
        attribute = flag[2:].replace("-", "_")
        assert getattr(args, attribute) == getattr(default, attribute)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--port", "eighty"], "argument --port: 'eighty' is not a whole number"),
        (["--port", "70000"], "'70000' is not a TCP port"),
        (["--rate", "-5"], "'-5' is negative"),
        (["--ping-interval", "0"], "--ping-interval must be more than 0"),
        (["--max-frame", "100"], "--max-frame must be a whole number of at least"),
        (["--origin", "lab.example.org"], "not how a browser writes one"),
        (["--key", "lab.key"], "--key needs --cert"),
    ],
)
def test_a_bad_value_exits_2_saying_what_is_wrong(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    """A bad option stops the server before it starts, naming the option."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert says in capsys.readouterr().err


def test_a_bad_variable_is_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad value from the environment says which variable it came from."""
    monkeypatch.setenv("P2PLAB_QUEUE", "lots")
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--queue" in err and "from the environment variable P2PLAB_QUEUE" in err


def test_an_unreadable_certificate_exits_1_with_a_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A --cert that is not a certificate stops the server with exit code 1."""
    cert = tmp_path / "lab.pem"
    cert.write_text("not a certificate")
    assert main(["--cert", str(cert), "--db", ":memory:"]) == 1
    assert f"cannot use the TLS certificate {cert}" in capsys.readouterr().err


def test_an_encrypted_key_exits_1_instead_of_asking_for_a_passphrase(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A key with a passphrase is refused with a message; nothing waits on a prompt."""
    cert, key = self_signed(tmp_path)
    private = load_pem_private_key(key.read_bytes(), password=None)
    key.write_bytes(
        private.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"secret")
        )
    )
    assert main(["--cert", str(cert), "--key", str(key), "--db", ":memory:"]) == 1
    assert "the private key is encrypted" in capsys.readouterr().err
