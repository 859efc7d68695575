# Sourced by hack/*.sh: creates .venv and installs the project with pinned versions.
# Re-installs only when pyproject.toml or constraints.txt changed since the last install.

ensure_venv() {
  local root stamp want
  root=$(pwd)
  if [ ! -x "$root/.venv/bin/python" ]; then
    echo "==> creating virtualenv .venv" >&2
    python3 -m venv "$root/.venv"
  fi
  want=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
  stamp="$root/.venv/.installed-$want"
  if [ ! -f "$stamp" ]; then
    echo "==> installing zstack-operator and its pinned dependencies into .venv" >&2
    "$root/.venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      -c constraints.txt -e ".[dev]"
    rm -f "$root"/.venv/.installed-*
    touch "$stamp"
  fi
  export PATH="$root/.venv/bin:$PATH"
}
