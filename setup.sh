#!/usr/bin/env bash
# Set up failure-modes: environment (conda when present, else .venv), PyTorch, the package with
# its dev extra, the Jupyter kernel "failure-modes", and the data. Safe to re-run: steps that are
# already done are skipped, so a second run takes seconds.
#
# Usage:  bash setup.sh            (or: source setup.sh, to stay in the environment afterwards)
# Options (environment variables):
#   FAILURE_MODES_ENV=venv|conda   force the kind of environment (default: conda if found)
#   TORCH_INDEX_URL=...            e.g. https://download.pytorch.org/whl/cpu for a CPU-only torch
#   FAILURE_MODES_DATA=...         where the datasets live (default: ./data)

# Both "bash setup.sh" and "source setup.sh" work; sourcing leaves the environment active. The
# steps run in a subshell with strict error handling, so a failure never closes the user's shell.
(return 0 2>/dev/null) && _fm_sourced=1 || _fm_sourced=0
_fm_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

_fm_setup() (
set -euo pipefail
cd "$_fm_here"
started=$(date +%s)
done_steps=()
note() { printf '[setup] %s\n' "$*"; }

# 1. Environment ---------------------------------------------------------------------------------
kind="${FAILURE_MODES_ENV:-}"
if [ -z "$kind" ]; then
    if command -v conda >/dev/null 2>&1; then kind=conda; else kind=venv; fi
fi
if [ "$kind" = conda ]; then
    eval "$(conda shell.bash hook)"
    if ! conda env list | awk '{print $1}' | grep -qx failure-modes; then
        note "creating conda environment failure-modes from environment.yml"
        conda env create -q -f environment.yml
        done_steps+=("created conda env failure-modes")
    fi
    conda activate failure-modes
else
    if [ ! -x .venv/bin/python ]; then
        python_bin="${PYTHON:-python3}"
        note "creating .venv with $($python_bin --version)"
        "$python_bin" -m venv .venv
        done_steps+=("created .venv")
    fi
    # shellcheck disable=SC1091
    source .venv/bin/activate
fi
python=python
pip_quiet=(-q --disable-pip-version-check)

# 2. PyTorch -------------------------------------------------------------------------------------
# Installed on its own so a site's pip constraints or a CPU-only index can pick the build; on a
# machine with a local wheel cache pip takes it from there.
if ! $python -c "import torch, torchvision" >/dev/null 2>&1; then
    note "installing torch and torchvision (large; this is the slow step)"
    extra=()
    [ -n "${TORCH_INDEX_URL:-}" ] && extra=(--index-url "$TORCH_INDEX_URL")
    $python -m pip install "${pip_quiet[@]}" "${extra[@]}" "torch>=2.2" "torchvision>=0.17"
    done_steps+=("installed $($python -c 'import torch; print("torch", torch.__version__)')")
fi

# 3. The package, editable, with the dev extra ---------------------------------------------------
stamp="$($python -c 'import sys; print(sys.prefix)')/.failure-modes.stamp"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || ! $python -c "import failure_modes" 2>/dev/null; then
    note "installing failure-modes (editable) with its dev extra"
    $python -m pip install "${pip_quiet[@]}" -e ".[dev]"
    touch "$stamp"
    done_steps+=("installed failure-modes[dev]")
fi

# 4. Jupyter kernel --------------------------------------------------------------------------------
# (Re-)register when missing or when it points at another environment (e.g. an older clone).
if ! $python - >/dev/null 2>&1 <<'EOF'
import sys
from jupyter_client.kernelspec import KernelSpecManager

spec = KernelSpecManager().get_kernel_spec("failure-modes")
sys.exit(0 if spec.argv[0] == sys.executable else 1)
EOF
then
    $python -m ipykernel install --user --name failure-modes --display-name "Python (failure-modes)" >/dev/null
    done_steps+=("registered Jupyter kernel failure-modes")
fi

# 5. FashionMNIST from Debian's package, when apt is there and we may use it ------------------------
fashion=/usr/share/datasets/fashion-mnist
if [ ! -d "$fashion" ]; then
    if command -v apt-get >/dev/null 2>&1; then
        sudo=""
        [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && sudo="sudo -n"
        if [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; then
            note "installing Debian package dataset-fashion-mnist"
            if $sudo apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 \
                || { $sudo apt-get update -qq >/dev/null 2>&1 \
                     && $sudo apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1; }; then
                done_steps+=("installed dataset-fashion-mnist")
            else
                note "could not install dataset-fashion-mnist; FashionMNIST will need a download"
            fi
        else
            note "skipping dataset-fashion-mnist (needs root or sudo); FashionMNIST will need a download"
        fi
    else
        note "no apt-get: FashionMNIST comes from torchvision's download"
    fi
fi

# 6. Data ------------------------------------------------------------------------------------------
$python - <<'EOF'
from failure_modes import data

root = data.data_root()
for name, record in data.prepare().items():
    sizes = f"train {record['sizes']['train']:,} / test {record['sizes']['test']:,}"
    print(f"[setup] {name:13s} {sizes} images from {record['source']}, in {root / name}")
EOF

elapsed=$(( $(date +%s) - started ))
note "done in ${elapsed}s (${kind} environment)"
for step in "${done_steps[@]+"${done_steps[@]}"}"; do note "  - $step"; done
printf '%s\n' "$kind" > "$_fm_here/.environment-kind"
)

if _fm_setup; then
    if [ "$_fm_sourced" = 1 ]; then
        if [ "$(cat "$_fm_here/.environment-kind")" = conda ]; then
            eval "$(conda shell.bash hook)" && conda activate failure-modes
        else
            # shellcheck disable=SC1091
            source "$_fm_here/.venv/bin/activate"
        fi
        echo "[setup] environment active: $(command -v python)"
    else
        echo "[setup] to use it: source .venv/bin/activate (or: conda activate failure-modes)"
    fi
else
    echo "[setup] FAILED; see the messages above" >&2
    # shellcheck disable=SC2317
    return 1 2>/dev/null || exit 1
fi
