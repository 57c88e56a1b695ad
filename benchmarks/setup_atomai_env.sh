#!/usr/bin/env bash
# Build .venv-atomai: atomai's rVAE for benchmarks/bench_rotation.py --peers.
#
# atomai 0.8.1 declares torchvision, which has no CPU build for the pinned torch here, so it
# is installed with --no-deps, its other imports are installed by hand, and the stand-in
# torchvision of benchmarks/torchvision_stub/ is copied in (its functions raise if called;
# atomai uses them for one backbone class and for plots only).  Three lines of atomai fail
# on NumPy 2 (np.product, np.int, np.float, removed aliases); they are patched in place.
#
# Usage (from anywhere):  bash benchmarks/setup_atomai_env.sh   (VENV=... PYTHON=... to choose)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv-atomai}"
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints.txt)

test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"${PIP[@]}" torch==2.13.0
"${PIP[@]}" atomai==0.8.1 --no-deps
"${PIP[@]}" numpy matplotlib scipy scikit-learn scikit-image opencv-python-headless networkx \
  progressbar2 pandas mendeleev==0.6.1 gpytorch six pillow

SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
rm -rf "$SITE/torchvision"
cp -R benchmarks/torchvision_stub/torchvision "$SITE/torchvision"
find "$SITE/torchvision" -name '__pycache__' -prune -exec rm -rf {} +
# NumPy 2 removed these aliases
sed -i 's/np\.product(/np.prod(/' "$SITE/atomai/losses_metrics/vi_losses.py"
sed -i 's/np\.int\b/int/' "$SITE/atomai/stat/multivar.py"
sed -i 's/dtype=np\.float\b/dtype=float/' "$SITE/atomai/utils/nn.py"

"$VENV/bin/python" - <<'PY'
import numpy as np
import torch
from atomai.models import rVAE

x = np.random.default_rng(0).random((64, 16, 16)).astype(np.float32)
model = rVAE((16, 16), latent_dim=2)
mean, _ = model.encode(x)
assert mean.shape == (64, 5), mean.shape
print(f"atomai env ready: torch {torch.__version__}, numpy {np.__version__}; torchvision is a stand-in")
PY
