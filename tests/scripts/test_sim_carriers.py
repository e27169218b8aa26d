"""The simulator's carrier registry: every carrier's ids, and credentials the gateway accepts."""

from __future__ import annotations

import base64
import re

from nacl.signing import SigningKey

from config import Settings
from scripts import loadtest
from scripts.twilio_sim.carriers import CARRIERS
from scripts.twilio_sim.vonage import answer_fields, parse_ncco


def test_every_carrier_gives_a_credential_its_gateway_settings_trust() -> None:
    assert set(CARRIERS) == {"twilio", "telnyx", "vonage", "plivo", "signalwire"}
    for name, carrier in CARRIERS.items():
        signer, env = carrier.credentials()
        settings = Settings(
            _env_file=None, **{k.removeprefix("KURA_").lower(): v for k, v in env.items()}
        )  # type: ignore[call-arg]
        identity = carrier.new_identity("+15553000000", "+15550002222")
        assert re.fullmatch(r"[A-Za-z0-9:-]{8,64}", identity.call_sid), name
        if name == "telnyx":
            public = base64.b64encode(bytes(SigningKey(base64.b64decode(signer)).verify_key))
            assert settings.telnyx_public_key == public.decode()
        elif name == "vonage":
            assert settings.vonage_signature_secret is not None
            assert settings.vonage_signature_secret.get_secret_value() == signer
        elif name == "plivo":
            assert settings.plivo_auth_token is not None
            assert settings.plivo_auth_token.get_secret_value() == signer
        elif name == "signalwire":
            assert settings.signalwire_token is not None
            assert settings.signalwire_token.get_secret_value() == signer
        else:
            assert settings.twilio_auth_token is not None
            assert settings.twilio_auth_token.get_secret_value() == signer


def test_the_vonage_answer_and_its_ncco() -> None:
    identity = CARRIERS["vonage"].new_identity("+15553000000", "+15550002222")
    fields = answer_fields(identity)
    assert (fields["to"], fields["from"], fields["uuid"]) == (
        "15550002222", "15553000000", identity.call_sid)  # fmt: skip
    ncco = ('[{"action":"connect","endpoint":[{"type":"websocket","uri":"wss://gw/x",'
            '"content-type":"audio/l16;rate=16000","headers":{"token":"t"}}]}]')  # fmt: skip
    connect = parse_ncco(ncco)
    assert connect is not None
    stream, rate_hz = connect
    assert (stream.stream_url, stream.parameters, rate_hz) == ("wss://gw/x", {"token": "t"}, 16000)
    assert parse_ncco('[{"action":"talk","text":"bye"}]') is None


def test_the_load_test_takes_a_carrier() -> None:
    args = loadtest.parser().parse_args(["--spawn", "--carrier", "vonage"])
    assert args.carrier == "vonage"
