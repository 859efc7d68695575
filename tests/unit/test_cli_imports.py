"""The CLI imports only the chosen subcommand: ``run`` never loads the tooling.

Each import check runs in a fresh interpreter, because this test session has long since
imported the simulator and the bench.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from zstack_operator import cli

#: What the runtime image deletes; ``zstack-operator run`` must not need any of it.
TOOLING = (
    "zstack_operator.sim",
    "zstack_operator.bench",
    "zstack_operator.devcluster",
    "zstack_operator.demo",
    "zstack_operator.bench_client",
)

_REPORT_TOOLING = f"""
import json, sys
tooling = {TOOLING!r}
loaded = sorted(m for m in sys.modules if any(m == t or m.startswith(t + ".") for t in tooling))
sys.stderr.write(json.dumps(loaded) + "\\n")
"""


def _python(code: str) -> tuple[str, list[str]]:
    """Run ``code`` in a new interpreter: its stdout, and the tooling modules it loaded."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code) + _REPORT_TOOLING],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded: list[str] = json.loads(done.stderr.splitlines()[-1])
    return done.stdout, loaded


def test_the_run_path_imports_no_tooling() -> None:
    # Down to handlers.run, through the real parser and settings; kopf itself is not started.
    code = """
        from zstack_operator import cli, handlers
        started = []
        handlers.run = lambda settings: started.append(settings) or 0
        argv = ["run", "--zstack-endpoint", "https://zstack.example:8443",
                "--credentials-secret", "zstack-system/zstack-credentials"]
        assert cli.main(argv) == 0 and len(started) == 1, started
        cli.build_parser("run").parse_args(["run"])
        import zstack_operator.handlers, zstack_operator.runner, zstack_operator.reconcile
    """
    assert _python(code) == ("", [])


def test_help_lists_every_subcommand_and_imports_no_tooling() -> None:
    code = """
        import runpy, sys
        sys.argv = ["zstack-operator", "--help"]
        try:
            runpy.run_module("zstack_operator", run_name="__main__")
        except SystemExit as exc:
            assert exc.code == 0, exc.code
    """
    out, loaded = _python(code)
    # argparse indents each subcommand's name by four spaces and its wrapped help by more.
    listed = [m[1] for m in re.finditer(r"^ {4}(\S+)", out, re.MULTILINE)]
    assert listed == [c.name for c in cli.COMMANDS]
    assert loaded == []


@pytest.mark.parametrize("command", cli.COMMANDS, ids=lambda c: c.name)
def test_the_table_agrees_with_each_module(command: cli.Command) -> None:
    """The table's name and help line are what the module itself registers."""
    loaded, table = cli.build_parser(command.name).format_help(), cli.build_parser().format_help()
    assert loaded == table, f"update {command.name}'s entry in cli.COMMANDS to match its module"
    assert command.module in cli.COMMAND_MODULES


@pytest.mark.parametrize("missing", ["zstack_operator.sim", "zstack_operator.sim.cli"])
def test_a_command_that_is_not_installed_says_so_in_one_line(
    missing: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A None entry makes the import fail as if the files were deleted, as in the runtime image.
    monkeypatch.delitem(sys.modules, "zstack_operator.sim.cli", raising=False)
    monkeypatch.setitem(sys.modules, missing, None)
    assert cli.main(["sim", "--port", "0"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("zstack-operator: the sim command is not installed here")


def test_a_missing_import_inside_a_command_is_not_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_command_for_test.py").write_text("import no_such_module_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    broken = cli.Command("broken", "broken_command_for_test", "a command with a bug")
    monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, broken))
    with pytest.raises(ModuleNotFoundError, match="no_such_module_anywhere"):
        cli.main(["broken"])


def test_the_image_drops_exactly_the_tooling() -> None:
    dockerfile = (Path(__file__).parents[2] / "Dockerfile").read_text()
    removal = re.search(r"^RUN rm -r ((?:[^\n]*\\\n)*[^\n]*)", dockerfile, re.MULTILINE)
    assert removal, "the Dockerfile no longer removes the tooling before building the wheel"
    paths = removal[1].split("&&")[0].replace("\\", " ").split()
    dropped = {p.removeprefix("operator/").removesuffix(".py").replace("/", ".") for p in paths}
    assert dropped == set(TOOLING)
