from __future__ import annotations

import re
from pathlib import Path

import pytest

from edge.cli.main import main
from edge.config.errors import ConfigError, format_loc, locate_keys
from edge.config.model import config_warnings, load_config, parse_config
from tests.helpers import write_config
from tests.test_replica import HOST_KEY

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
SECRET = "Sup3r-Secret-Passw0rd-That-Is-Far-Too-Long"


def errors_of(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "site.toml")
    return info.value


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    hits = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


def test_example_config_is_valid() -> None:
    cfg = load_config(EXAMPLE)
    assert [lane.id for lane in cfg.lanes] == ["in-1", "out-1"]
    assert cfg.lanes[0].barrier.driver == "camera-relay"
    assert cfg.site.zone.key == "Asia/Shanghai"
    assert cfg.lane("out-1").direction == "out"
    with pytest.raises(KeyError):
        cfg.lane("nope")


def test_every_error_is_reported_with_key_path_and_line() -> None:
    text = EXAMPLE.read_text("utf-8")
    bad = (
        text.replace('enterprise_code = "4110020001"', 'enterprise_code = "41100"')
        .replace("channel = 0        #", "channel = 7        #")
        .replace('direction = "out"', 'direction = "outt"')
        .replace("[forwarder]", "[forwarder]\nconcurency = 3")
    )
    err = errors_of(bad)
    by_path = {format_loc(issue.loc): issue for issue in err.issues}
    assert set(by_path) == {
        "site.enterprise_code",
        "lanes[0].barrier.channel",
        "lanes[1].direction",
        "forwarder.concurency",
    }
    assert by_path["lanes[0].barrier.channel"].line == line_of(bad, "channel = 7")
    assert by_path["lanes[1].direction"].line == line_of(bad, 'direction = "outt"')
    assert by_path["forwarder.concurency"].line == line_of(bad, "concurency")
    assert "unknown key" in by_path["forwarder.concurency"].message
    rendered = err.render()
    assert rendered.startswith("site.toml: 4 configuration error(s)")
    assert "lanes[0].barrier.channel (line" in rendered
    assert "(got 7)" in rendered


def test_secrets_are_never_echoed() -> None:
    text = EXAMPLE.read_text("utf-8").replace('password = "sim-password"', f'password = "{SECRET}"')
    err = errors_of(text)
    assert [format_loc(i.loc) for i in err.issues] == ["platform.password"]
    assert SECRET not in err.render()
    token_text = EXAMPLE.read_text("utf-8").replace(
        'kind = "hikvision-push"', 'kind = "hikvision-push"\ntoken = 12345'
    )
    assert "12345" not in errors_of(token_text).render()


def test_missing_sections_and_keys() -> None:
    err = errors_of('[site]\nenterprise_name = "x"\n')
    paths = {format_loc(i.loc) for i in err.issues}
    assert {"site.enterprise_code", "platform", "lanes"} <= paths
    missing = next(i for i in err.issues if format_loc(i.loc) == "site.enterprise_code")
    assert missing.line == 1  # points at the [site] table


def test_toml_syntax_error_names_the_line() -> None:
    err = errors_of('[site]\nenterprise_code = "4110020001\n')
    assert "TOML syntax error" in err.render()
    assert "line 2" in err.render()


def test_semantic_errors() -> None:
    text = EXAMPLE.read_text("utf-8").replace('id = "out-1"', 'id = "in-1"')
    text = text.replace('direction = "out"', 'direction = "in"')
    text = text.replace('kind = "vzenith-push"', 'kind = "generic-push"')
    text = text.replace("comet_hold_seconds = 3.0", "")
    text = text.replace('[lanes.detector]\ndriver = "none"', '[lanes.detector]\ndriver = "virtual"')
    messages = {format_loc(i.loc): i.message for i in errors_of(text).issues}
    assert "used twice" in messages["lanes[1].id"]
    assert "serial numbers would collide" in messages["lanes[1].gate_code"]
    assert "vzenith-push" in messages["lanes[0].barrier.driver"]
    assert "vzenith-push" in messages["lanes[0].led.transport"]
    assert "only sees vehicles of a 'virtual' barrier" in messages["lanes[0].detector.driver"]


def test_device_errors_name_the_key_and_line() -> None:
    text = EXAMPLE.read_text("utf-8")
    text = text.replace('bus = "board1"\nchannel = 0', 'bus = "board2"\nchannel = 0')
    text = text.replace('host = "127.0.0.1"', 'host = ""')
    err = errors_of(text)
    messages = {format_loc(i.loc): i.message for i in err.issues}
    assert "no [modbus.board2] section (board1)" in messages["lanes[1].barrier.bus"]
    assert "required for 'tcp'" in messages["modbus.board1.host"]
    assert "lanes[1].barrier.bus (line " in err.render()
    bad_hex = EXAMPLE.read_text("utf-8").replace(
        '[lanes.detector]\ndriver = "none"',
        '[lanes.detector]\ndriver = "serial-contact"\nport = "/dev/ttyUSB2"\n'
        'present = "49 4E 31"\ngone = "not hex"',
    )
    messages = {format_loc(i.loc): i.message for i in errors_of(bad_hex).issues}
    assert "not hex bytes" in messages["lanes[0].detector.gone"]


def test_one_serial_port_one_device() -> None:
    text = EXAMPLE.read_text("utf-8").replace(
        '[lanes.detector]\ndriver = "none"',
        '[lanes.detector]\ndriver = "serial-contact"\nport = "socket://127.0.0.1:5005"\n'
        'present = "01"\ngone = "00"',
    )
    text = text.replace('transport = "camera"', 'transport = "serial"')
    messages = {format_loc(i.loc): i.message for i in errors_of(text).issues}
    assert "required with transport = 'serial'" in messages["lanes[0].led.port"]
    assert "opened by another driver too" in messages["lanes[1].led.port"]


def test_bad_time_zone_and_led_template() -> None:
    text = EXAMPLE.read_text("utf-8").replace('"Asia/Shanghai"', '"Mars/Olympus"')
    text = text.replace('open = ["{plate}"', 'open = ["{plate} {speed}"')
    text = text.replace('refuse = ["{plate}"', 'refuse = ["{plate"')
    messages = {format_loc(i.loc): i.message for i in errors_of(text).issues}
    assert messages["site.timezone"].startswith("unknown time zone")  # not pydantic's words
    assert "speed" in messages["led_text.open"]
    assert "bad template" in messages["led_text.refuse"]


def test_a_value_where_a_table_belongs_is_said_in_toml_words(tmp_path: Path) -> None:
    """``forwarder = 5`` or ``camera = "generic-push"``: a table is meant — said so, never
    pydantic's "valid dictionary or instance of ForwarderConfig"."""
    text = write_config(tmp_path / "config.toml", "http://127.0.0.1:9").read_text("utf-8")
    text = "forwarder = 5\n" + re.sub(r"(?m)^camera = .*$", 'camera = "generic-push"', text)
    messages = {format_loc(i.loc): i.message for i in errors_of(text).issues}
    assert messages["forwarder"].startswith("must be a table: a [section]")
    assert messages["lanes[0].camera"].startswith("must be a table")
    assert not any("dictionary" in m or "instance of" in m for m in messages.values())


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_PLATFORM__PASSWORD", "from-env")
    monkeypatch.setenv("EDGE_WEB__PORT", "9001")
    cfg = load_config(EXAMPLE)
    assert cfg.platform.password.get_secret_value() == "from-env"
    assert cfg.web.port == 9001
    assert cfg.platform.username == "gate01"  # the rest still comes from the file


def test_environment_sets_named_tables_whole_lists_and_any_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """How ``EDGE_…`` variables are read: a key of a table of names (``[modbus.board1]``), a
    whole list as JSON, names in any case; the rest of the table still from the file."""
    monkeypatch.setenv("EDGE_MODBUS__BOARD1__PORT", "1602")
    monkeypatch.setenv("EDGE_LISTS__DENY", '[{"plate": "豫A12345", "reason": "欠费停运"}]')
    monkeypatch.setenv("edge_web__port", "9002")
    cfg = load_config(EXAMPLE)
    assert cfg.modbus["board1"].port == 1602
    assert cfg.modbus["board1"].host == "127.0.0.1"  # from the file
    assert [(e.plate, e.reason) for e in cfg.lists.deny] == [("豫A12345", "欠费停运")]
    assert [e.plate for e in cfg.lists.in_plant] == ["豫A0001挂"]  # from the file
    assert cfg.web.port == 9002


def test_a_table_from_the_environment_that_is_not_json_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A list's variable that is not JSON was a traceback (pydantic-settings' SettingsError,
    naming only the section): it is a config error naming the variable."""
    monkeypatch.setenv("EDGE_LISTS__DENY", "豫A12345")
    with pytest.raises(ConfigError) as refused:
        load_config(EXAMPLE)
    assert "lists.deny (from EDGE_LISTS__DENY)" in refused.value.render()


@pytest.mark.parametrize(
    ("password", "said"), [("", "must not be empty"), ("x" * 44, "must be at most 32 characters")]
)
def test_a_password_from_the_environment_is_checked_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, password: str, said: str
) -> None:
    """An empty password (``EDGE_PLATFORM__PASSWORD=``) was taken silently — the placeholder
    warning gone too; one too long said pydantic's words and the secret's length."""
    monkeypatch.setenv("EDGE_PLATFORM__PASSWORD", password)
    with pytest.raises(ConfigError) as refused:
        load_config(EXAMPLE)
    text = refused.value.render()
    assert f"platform.password (from EDGE_PLATFORM__PASSWORD): {said}" in text
    assert "44" not in text
    assert "items" not in text


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("EDGE_LANES__0__ID", "in-9", "lanes (from EDGE_LANES__0__ID): list items cannot be "
         "overridden by environment; edit lanes[0].id in the file"),
        ("EDGE_LANES__1__CAMERA__PORT", "8081", "lanes (from EDGE_LANES__1__CAMERA__PORT): list "
         "items cannot be overridden by environment; edit lanes[1].camera.port in the file"),
        ("EDGE_CONTROL_PLANS__0__NAME", "x", "control_plans (from EDGE_CONTROL_PLANS__0__NAME): "
         "list items cannot be overridden by environment"),
        ("EDGE_LISTS__DENY__0__PLATE", "豫A12345", "lists.deny (from EDGE_LISTS__DENY__0__PLATE): "
         "list items cannot be overridden by environment"),
        ("EDGE_LANES__ID", "in-9", "lanes (from EDGE_LANES__ID): list items cannot be overridden "
         "by environment; edit the list in the file"),
    ],
)  # fmt: skip
def test_a_list_item_from_the_environment_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, said: str
) -> None:
    """``EDGE_LANES__0__ID=…`` said ``lanes: must be a valid list (got {'0': …})``: no
    variable named, and pydantic-settings can only replace the file's whole list."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as refused:
        load_config(EXAMPLE)
    text = refused.value.render()
    assert said in text
    assert "valid list" not in text


def test_relative_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    text = EXAMPLE.read_text("utf-8").replace(
        'database = "/var/lib/edge-gate/edge.db"', 'database = "data/edge.db"'
    )
    text = text.replace(
        'fallback_journal = "/run/edge-gate/fallback.jsonl"', 'fallback_journal = "run/j.jsonl"'
    )
    text += '\n[replica]\ntype = "sftp"\npath = "/b"\nhost = "127.0.0.1"\nuser = "u"\n'
    (tmp_path / "keys").mkdir(exist_ok=True)
    (tmp_path / "keys" / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    (tmp_path / "keys" / "id_ed25519").chmod(0o600)
    text += f'key_file = "keys/id_ed25519"\nhost_key = "{HOST_KEY}"\n'
    text = text.replace("[photo_web]\n", '[photo_web]\nkey_file = "keys/photo-url.key"\n')
    path = tmp_path / "config.toml"
    path.write_text(text, "utf-8")
    cfg = load_config(path)
    assert cfg.storage.database == tmp_path / "data" / "edge.db"
    assert cfg.storage.fallback_journal == tmp_path / "run" / "j.jsonl"
    assert cfg.photo_web.key_file == tmp_path / "keys" / "photo-url.key"
    assert cfg.replica is not None
    assert cfg.replica.key_file == tmp_path / "keys" / "id_ed25519"


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[site]\nenterprise_name = "\xff"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(latin)


def test_locate_keys_handles_arrays_dotted_and_inline_tables() -> None:
    text = (
        "[site]\nname = 1\n[[lanes]]\nid = 'a'\n[lanes.barrier]\ndriver = 'x'\n"
        "[[lanes]]\nid = 'b'\nbarrier = { driver = 'y', channel = 2 }\nsite.sub = 3\n"
    )
    lines = locate_keys(text)
    assert lines[("lanes", 0, "barrier", "driver")] == 6
    assert lines[("lanes", 1, "id")] == 8
    assert lines[("lanes", 1, "barrier", "channel")] == 9
    assert lines[("lanes", 1, "site", "sub")] == 10


def test_check_config_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["check-config", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out
    assert "in-1: gate 01 in, camera vzenith-push" in out
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE.read_text("utf-8").replace('gate_code = "01"', 'gate_code = "1"', 1))
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "lanes[0].gate_code (line" in err
    assert main(["run", "--config", str(bad)]) == 2
    assert "lanes[0].gate_code" in capsys.readouterr().err


PROVINCE = """
[site]
enterprise_code = "4110020001"
enterprise_name = "测试企业"
[platform]
mode = "province"
base_url = "http://127.0.0.1:9000/province"
username = "gate01"
password = "p"
org_secret_code = "ORG"
company_secret_code = "COMPANY"
date_format = "yyyyMMddHHmm"
[[lanes]]
id = "in-1"
gate_code = "01"
direction = "in"
gate_secret_code = "GATE-01"
camera = { kind = "generic-push" }
barrier = { driver = "virtual" }
[[lanes]]
id = "out-1"
gate_code = "01"
direction = "out"
camera = { kind = "generic-push" }
barrier = { driver = "virtual" }
"""


def test_province_mode_needs_its_secret_codes() -> None:
    err = errors_of(PROVINCE.replace('company_secret_code = "COMPANY"\n', ""))
    messages = {format_loc(i.loc): i.message for i in err.issues}
    assert messages == {
        "platform.company_secret_code": "required in province mode",
        "lanes[1].gate_secret_code": "required in province mode",
    }
    assert "COMPANY" not in err.render()
    assert "GATE-01" not in err.render()


def test_province_config_and_template_checks() -> None:
    text = PROVINCE.replace(
        '[[lanes]]\nid = "out-1"', '[[lanes]]\ngate_secret_code = "G2"\nid = "out-1"'
    )
    cfg = parse_config(text)
    assert cfg.platform.mode == "province"
    assert cfg.platform.date_format == "yyyyMMddHHmm"
    bad = text.replace('date_format = "yyyyMMddHHmm"', 'path_template = "{base}/api"')
    assert "must contain {method}" in errors_of(bad).render()
    bad = text.replace('date_format = "yyyyMMddHHmm"', 'path_template = "{base}/{method}/{x}"')
    assert "only {base} and {method}" in errors_of(bad).render()


def test_city_mode_needs_organ_and_a_short_password() -> None:
    text = EXAMPLE.read_text("utf-8").replace('organ = "4110020001"\n', "")
    assert "platform.organ (line" in errors_of(text).render()
    text = EXAMPLE.read_text("utf-8").replace(
        'password = "sim-password"', f'password = "{"x" * 31}"'
    )
    assert "30 characters" in errors_of(text).render()


def test_credentials_inside_a_replica_address_are_refused_and_never_echoed(
    tmp_path: Path,
) -> None:
    """A fresh tester's case: ``endpoint = "http://KEY:SECRET@minio"`` (or an SFTP host
    ``root:PASS@nas``) was accepted and then shown on /healthz and in every log line."""
    for key, value in (
        ("endpoint", "http://AKUSER:URLSECRET999@127.0.0.1:19000"),
        ("host", "root:SSHPASS777@127.0.0.1"),
    ):
        extra = f'[replica]\ntype = "s3"\npath = "gate-01"\nbucket = "b"\n{key} = "{value}"\n'
        text = write_config(tmp_path / "config.toml", "http://127.0.0.1:9", extra=extra)
        messages = {format_loc(i.loc): i.message for i in errors_of(text.read_text("utf-8")).issues}
        assert "no user or password in an address" in messages[f"replica.{key}"]
        assert "SECRET" not in str(messages)
        assert "PASS7" not in str(messages)


def test_a_pushing_lane_open_to_every_address_is_warned_of_off_loopback() -> None:
    """The total connection cap leaves room only for the addresses in a lane's ``allow_from``:
    a pushing lane without it, on a listener other hosts reach, is warned of (at check and at
    start) — not refused, the demo runs without it on loopback."""

    def lane_warnings(text: str) -> list[tuple[str | int, ...]]:
        issues = config_warnings(parse_config(text, "x", EXAMPLE.parent))
        return [issue.loc for issue in issues if issue.loc[0] == "lanes"]

    text = EXAMPLE.read_text(encoding="utf-8")
    assert lane_warnings(text) == []  # on loopback
    exposed, found = re.subn(
        r'(\[web\]\n(?:#.*\n)*)host = "127.0.0.1"', r'\1host = "0.0.0.0"', text
    )
    assert found == 1
    both = [("lanes", 0, "camera", "allow_from"), ("lanes", 1, "camera", "allow_from")]
    assert lane_warnings(exposed) == both
    (first, *_) = (i for i in config_warnings(parse_config(exposed, "x", EXAMPLE.parent))
                   if i.loc[0] == "lanes")  # fmt: skip
    assert "lane in-1 takes pushes from any address" in first.message
    fenced = exposed.replace("allow_from = []", 'allow_from = ["10.1.2.30"]', 1)
    assert lane_warnings(fenced) == both[1:]
