"""`broker systems import|list`: the names pages show for legacy source systems, on both databases."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from broker.cli import app


def test_import_names_then_rename_and_configured_names_win(database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    names = tmp_path / "systems.csv"
    names.write_text(
        "source_system,display_name\ndvc-tinh,Cổng DVC tỉnh\nmotcua-huyen,Một cửa huyện\n", "utf-8"
    )
    env = {"BROKER_DATABASE_URL": database_url}

    first = runner.invoke(app, ["systems", "import", str(names)], env=env)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == {"named": 2}
    names.write_text("source_system,display_name\ndvc-tinh,Cổng Dịch vụ công tỉnh\n", "utf-8")
    assert runner.invoke(app, ["systems", "import", str(names)], env=env).exit_code == 0

    listed = runner.invoke(
        app,
        ["systems", "list"],
        env={**env, "BROKER_SOURCE_SYSTEM_NAMES": '{"motcua-huyen": "Một cửa (cấu hình)"}'},
    )
    assert json.loads(listed.stdout) == {
        "dvc-tinh": "Cổng Dịch vụ công tỉnh",
        "motcua-huyen": "Một cửa (cấu hình)",
    }


def test_a_bad_names_file_is_refused_with_its_line(database_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("source_system,display_name\ndvc-tinh,\n", "utf-8")
    result = CliRunner().invoke(
        app, ["systems", "import", str(bad)], env={"BROKER_DATABASE_URL": database_url}
    )
    assert result.exit_code == 2 and "line 2" in result.output
