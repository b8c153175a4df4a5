"""The committed openapi.yaml is the app's own document: regenerate with `make openapi`."""

from pathlib import Path

from broker.openapi import document


def test_openapi_yaml_is_up_to_date() -> None:
    committed = (Path(__file__).resolve().parents[1] / "openapi.yaml").read_text(encoding="utf-8")
    assert committed == document(), "openapi.yaml is out of date: run `make openapi` and commit it"
