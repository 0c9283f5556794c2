#!/usr/bin/env bash
# One seed of the evidence run (issue #24), from a fixed commit, in the background, resumable.
#
#   scripts/evidence.sh SEED [CONFIG] [ROOT]
#
# - Freezes the code: a git worktree of the current HEAD under ROOT/code/<commit> with its own virtual
#   environment and a NON-editable install (so editing the checkout cannot change a running experiment).
# - Runs `selfmine run` with --set seed=SEED into ROOT/runs/<config name>-s<SEED>, logging to
#   ROOT/runs/<config name>-s<SEED>.log, under nohup. Calling it again with the same arguments resumes the
#   run (finished stages are skipped; the run dir refuses other settings).
# - The commit, the command and the library versions are written beside the run (run.env); every result
#   JSON records versions and checksums itself.
#
# Defaults: CONFIG=configs/cpu-selfmine-study-qwen.yaml, ROOT=/work/evidence (outside the work tree).
set -euo pipefail

seed="${1:?usage: scripts/evidence.sh SEED [CONFIG] [ROOT]}"
config="${2:-configs/cpu-selfmine-study-qwen.yaml}"
root="${3:-/work/evidence}"
repo="$(git rev-parse --show-toplevel)"
commit="$(git -C "$repo" rev-parse HEAD)"
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
    echo "evidence.sh: uncommitted changes in the checkout are NOT part of this run (it runs $commit)" >&2
fi
code="$root/code/$commit"
if [ ! -x "$code/.venv/bin/selfmine" ]; then
    mkdir -p "$root/code"
    [ -d "$code" ] || git -C "$repo" worktree add --detach "$code" "$commit" >/dev/null
    python3 -m venv "$code/.venv"
    "$code/.venv/bin/pip" install -q --upgrade pip
    "$code/.venv/bin/pip" install -q -c "$code/constraints.txt" "$code[ml,eval,qwen,dev]"
fi
name="$(basename "$config" .yaml)-s$seed"
run="$root/runs/$name"
mkdir -p "$root/runs"
{
    echo "commit=$commit"
    echo "config=$config"
    echo "seed=$seed"
    echo "started=$(date -u +%FT%TZ)"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
    "$code/.venv/bin/python" -c 'import torch, transformers, peft, trl; print(f"torch={torch.__version__} transformers={transformers.__version__} peft={peft.__version__} trl={trl.__version__}")'
} >> "$run.env"
cd "$code"
PYTHONUNBUFFERED=1 nohup "$code/.venv/bin/selfmine" run -c "$code/$config" --run-dir "$run" --set "seed=$seed" --no-progress \
    >> "$run.log" 2>&1 &
echo "started seed $seed of $config at $commit: log $run.log, run dir $run (pid $!)"
