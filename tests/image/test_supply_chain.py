"""What the image is built from is pinned: hashed requirements, base digest, action SHAs.

Offline and fast (no ``image`` marker): the hashed requirements agree with constraints.txt and
pyproject.toml (hack/image-requirements.py's own check, and proof that it catches each kind of
drift), the Dockerfile installs only by hash from a digest-pinned base, and every GitHub
Actions ``uses:`` names a commit. docs/supply-chain.md explains each.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
DIGEST = re.compile(r"python:3\.11-slim@sha256:[0-9a-f]{64}")
REGENERATE = "regenerate: .venv/bin/python hack/image-requirements.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "image_requirements", ROOT / "hack" / "image-requirements.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lock = _load_script()


def test_the_hashed_requirements_match_constraints_and_pyproject() -> None:
    problems = lock.check()
    assert problems == [], f"{REGENERATE}\n" + "\n".join(problems)


@pytest.fixture
def copies(tmp_path: Path) -> dict[str, Path]:
    """Editable copies of the four files ``check`` compares."""
    paths = {
        "image": ROOT / "requirements" / "image.txt",
        "build": ROOT / "requirements" / "build.txt",
        "constraints": ROOT / "constraints.txt",
        "pyproject": ROOT / "pyproject.toml",
    }
    return {
        key: Path(shutil.copy(path, tmp_path / f"{key}-{path.name}")) for key, path in paths.items()
    }


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _check(copies: dict[str, Path]) -> list[str]:
    problems: list[str] = lock.check(
        copies["image"], copies["build"], copies["constraints"], copies["pyproject"]
    )
    return problems


def _entry(path: Path, name: str) -> str:
    """The ``name==...`` entry of a requirements file, hashes and ``# via`` included."""
    match = re.search(rf"^{re.escape(name)}==.*?(?=^\S|\Z)", path.read_text(), re.M | re.S)
    assert match, name
    return match[0]


def test_a_version_that_differs_from_constraints_is_drift(copies: dict[str, Path]) -> None:
    _edit(copies["image"], "httpx==0.28.1", "httpx==0.28.0")
    assert _check(copies) == ["image.txt has httpx==0.28.0, constraints.txt httpx==0.28.1"]


def test_a_bumped_constraint_is_drift_and_a_stale_environment_says_so(
    copies: dict[str, Path],
) -> None:
    # The environment was installed before the bump: its metadata cannot vouch for the tree.
    _edit(copies["constraints"], "httpx==0.28.1", "httpx==0.28.2")
    assert _check(copies) == [
        "image.txt has httpx==0.28.1, constraints.txt httpx==0.28.2",
        "httpx is installed at 0.28.1 but constraints.txt pins 0.28.2: "
        "reinstall the environment (hack/test.sh does)",
    ]


def test_a_missing_or_extra_dependency_is_drift(copies: dict[str, Path]) -> None:
    _edit(copies["image"], _entry(copies["image"], "sniffio"), "")
    _edit(
        copies["image"],
        "tzdata==",
        "pytest==9.2.0 \\\n    --hash=sha256:" + "0" * 64 + "\ntzdata==",
    )
    assert _check(copies) == [
        "image.txt lacks sniffio (needed by pyproject.toml)",
        "image.txt has pytest, which no runtime dependency needs",
    ]


def test_a_new_runtime_dependency_is_drift(copies: dict[str, Path]) -> None:
    # rich is installed here (a dev tool needs it) at its constraints.txt pin.
    _edit(copies["pyproject"], '    "kopf>=1.45",\n', '    "kopf>=1.45",\n    "rich>=13",\n')
    problems = _check(copies)
    assert "image.txt lacks rich (needed by pyproject.toml)" in problems
    assert "image.txt lacks markdown-it-py (needed by rich)" in problems


def test_an_entry_without_hashes_is_refused(copies: dict[str, Path]) -> None:
    _edit(copies["image"], _entry(copies["image"], "sniffio"), "sniffio==1.3.1\n")
    assert _check(copies) == ["image.txt: sniffio needs sha256 hashes, has []"]


def test_the_build_backend_is_pinned_in_all_three_places(copies: dict[str, Path]) -> None:
    assert lock.build_requires() == [f"setuptools=={lock.read_constraints()['setuptools']}"]
    _edit(copies["pyproject"], 'requires = ["setuptools==', 'requires = ["setuptools>=')
    (problem,) = _check(copies)
    assert problem.startswith("pyproject's [build-system] requires ['setuptools>=")


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_the_base_is_pinned_by_digest_and_named_so_in_the_docs() -> None:
    (base,) = re.findall(r"^ARG PYTHON_IMAGE=(.+)$", _dockerfile(), re.M)
    assert DIGEST.fullmatch(base), base
    for doc in ("docs/image.md", "docs/supply-chain.md", "deploy/helm/zstack-operator/values.yaml"):
        assert base in (ROOT / doc).read_text(), f"{doc} does not name {base}"


def _instructions(dockerfile: str) -> list[str]:
    """Dockerfile instructions with their continuation lines joined, comments dropped."""
    lines = [line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")]
    return [i.strip() for i in re.sub(r"\\\n", " ", "\n".join(lines)).splitlines() if i.strip()]


def test_pip_in_the_dockerfile_takes_nothing_unhashed() -> None:
    """Each pip call installs by hash, or only the project's own wheel without the index."""
    commands = [
        command.strip()
        for instruction in _instructions(_dockerfile())
        if instruction.startswith("RUN ")
        for command in instruction.removeprefix("RUN ").split("&&")
        if command.strip().startswith("pip ") and not command.strip().startswith("pip check")
    ]
    assert len(commands) == 5, commands
    for command in commands:
        hashed = "--require-hashes" in command and "--only-binary :all:" in command
        own_wheel = "--no-index" in command and "--no-deps" in command
        assert hashed or own_wheel, command
        if command.startswith("pip wheel"):
            assert "--no-build-isolation" in command, command
            assert "--check-build-dependencies" in command, command


def pins_problems(text: str) -> list[str]:
    """Every ``uses:`` of a workflow that is not a commit SHA with its tag in a comment."""
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        match = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
        if match is None:
            continue
        target, rest = match[1], match[2]
        if target.startswith("./"):
            continue  # an action of this repository, pinned by the checkout itself
        if target.startswith("docker://"):
            if not re.search(r"@sha256:[0-9a-f]{64}$", target):
                problems.append(f"line {number}: {target} is no image digest")
            continue
        if not re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", target):
            problems.append(f"line {number}: {target} is not pinned to a commit SHA")
        elif not re.fullmatch(r"\s+#\s*v\d+(\.\d+)*\s*", rest):
            problems.append(f"line {number}: {target} lacks its tag as a '# vX.Y.Z' comment")
    return problems


def _uses(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [str(node["uses"])] if "uses" in node else []
        return found + [u for value in node.values() for u in _uses(value)]
    if isinstance(node, list):
        return [u for item in node for u in _uses(item)]
    return []


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit(workflow: Path) -> None:
    text = workflow.read_text()
    assert pins_problems(text) == []
    # The line scan above saw every uses: the YAML holds (none hides in a flow mapping).
    scanned = re.findall(r"^\s*(?:-\s+)?uses:\s*(\S+)", text, re.M)
    assert scanned == _uses(yaml.safe_load(text))
    assert scanned, "a workflow without actions: is this test still looking at the right files?"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("      - uses: actions/checkout@v4", "is not pinned to a commit SHA"),
        ("        uses: actions/cache@main # v4", "is not pinned to a commit SHA"),
        (
            "      - uses: actions/checkout@08eba0b27e820071cde6df949e0beb9ba4906955",
            "lacks its tag",
        ),
        ("      - uses: actions/checkout@08eba0b27e82", "is not pinned to a commit SHA"),
        ("      - uses: docker://alpine:3", "is no image digest"),
    ],
)
def test_the_pin_check_refuses_tags_branches_and_short_shas(line: str, problem: str) -> None:
    (found,) = pins_problems(f"steps:\n{line}\n")
    assert problem in found
