#!/usr/bin/env bash
# One seed of the evidence run (issue #24), from a fixed commit, in the background, resumable, and carried
# from session to session through committed results.
#
#   scripts/evidence.sh SEED [CONFIG] [ROOT]        start or resume seed SEED in the background
#   scripts/evidence.sh save SEED [CONFIG] [ROOT]   copy what the run has finished into RESULTS/s<SEED>
#
# - Freezes the code: a git worktree of one commit under ROOT/code/<commit> with its own virtual
#   environment and a NON-editable install (so editing the checkout cannot change a running experiment).
#   A new run takes the current HEAD; a run that exists (or is restored) keeps the commit it started with.
# - Runs `selfmine run` with --set seed=SEED into ROOT/runs/<config name>-s<SEED>, logging to
#   ROOT/runs/<config name>-s<SEED>.log, under nohup. Calling it again resumes the run (finished stages are
#   skipped; the run dir refuses other settings and another kind of machine, in one line; this script also
#   refuses a CPU model or instruction class other than the one in run.env, since vendors differ).
# - `save` writes RESULTS/s<SEED>/: every finished arm's result JSON and its samples in EvalPlus's format,
#   the mined pairs, and under run/ the ledger (gzip), config and run.env, and the completions of an
#   evaluation under way (eval/<arm>.partial.jsonl: it resumes from them on the same kind of machine). When the run dir is missing (a new
#   session on a new machine), starting the seed restores it from there; finished trainings whose weights
#   are not committed train again when an evaluation still needs them, and their loss curves are checked.
#   A result from a run frozen before a scorer fix (RESCORE below) is judged again by this checkout's
#   scorer as it is saved; a committed result judged again since (`rescored`) is kept as committed.
#
# REUSE_FROM=DIR (environment, a new run only): take the greedy base arms (base.json, base@chat.json) from
# DIR, another seed's committed results made on the same kind of machine (pipeline.reuse_base checks that
# everything but the seed matches); kept in run.env for every resume.
#
# A study config (one with `study:`, e.g. configs/study-threshold-qwen-s0.yaml) runs `selfmine study`
# instead, on the machine and pairs of seed SEED (its pairs_file must be that seed's); `save` then also
# copies its adapters' training records and, once it has finished, study.json/md/html and the plots.
#
# Defaults: CONFIG=configs/cpu-selfmine-study-qwen.yaml, ROOT=/work/evidence (outside the work tree),
# RESULTS (environment) = results/cpu-qwen2.5-coder-0.5b for that config, else results/<config name>.
set -euo pipefail

verb=run
if [ "${1:-}" = save ]; then verb=save; shift; fi
seed="${1:?usage: scripts/evidence.sh [save] SEED [CONFIG] [ROOT]}"
config="${2:-configs/cpu-selfmine-study-qwen.yaml}"
root="${3:-/work/evidence}"
repo="$(git rev-parse --show-toplevel)"
name="$(basename "$config" .yaml)"
[ -f "$repo/$config" ] || { echo "evidence.sh: no config $config in $repo (give it relative to the repository)" >&2; exit 1; }
same_as=""  # a run.env whose machine a new run must share (a run that compares itself with that one)
case "$name" in
    cpu-selfmine-study-qwen) default_results=results/cpu-qwen2.5-coder-0.5b ;;
    cpu-selfmine-study) default_results=results/cpu-gemma-3-270m ;;
    cpu-selfmine-iterate-qwen)
        default_results=results/cpu-qwen2.5-coder-0.5b/iteration2
        same_as="$repo/results/cpu-qwen2.5-coder-0.5b/s$seed/run/run.env" ;;
    study-threshold-qwen*)  # a threshold study on one seed's pairs, on that seed's kind of machine
        default_results=results/cpu-qwen2.5-coder-0.5b/threshold
        same_as="$repo/results/cpu-qwen2.5-coder-0.5b/s$seed/run/run.env"
        grep -q "pairs_file: .*/s$seed/" "$repo/$config" || {
            echo "evidence.sh: $config does not study seed $seed's pairs (its study.pairs_file)" >&2; exit 1; } ;;
    *) default_results="results/$name" ;;
esac
results="$repo/${RESULTS:-$default_results}/s$seed"
run="$root/runs/$name-s$seed"
# a study (`selfmine study`: its arms under study/eval, its adapters under study/adapters) or a run
if grep -q '^study:' "$repo/$config"; then kind=study; arms="$run/study/eval"; adapters="$run/study/adapters"
else kind=run; arms="$run/eval"; adapters="$run/adapters"; fi

first_commit() { sed -n 's/^commit=//p' "$1" | head -1; }

# Scorer fixes made after a run froze its code, as COMMIT|BENCH|TASKS|WHY: a result `save` copies from a run
# older than COMMIT is judged again on TASKS by this checkout's scorer (scripts/rescore_results.py), as the
# committed results were when the fix landed; the result then records it under `rescored`.
RESCORE=(
    "ef5012fefebbcfdf543e8307221aca9da00714ab|mbpp+|Mbpp/111,Mbpp/140,Mbpp/2,Mbpp/232,Mbpp/558,Mbpp/579,Mbpp/581,Mbpp/7,Mbpp/737,Mbpp/769,Mbpp/787,Mbpp/794|MBPP+ special oracles as EvalPlus 0.3.1 applies them"
)
rescore_if_older() {  # $1: a result just saved; $2: the commit its run froze
    local line fix bench tasks why
    for line in "${RESCORE[@]}"; do
        IFS='|' read -r fix bench tasks why <<< "$line"
        git -C "$repo" merge-base --is-ancestor "$fix" "$2" 2>/dev/null && continue  # the run has the fix
        grep -q "\"$bench\"" "$1" || continue
        [ -x "$repo/.venv/bin/python" ] || { echo "evidence.sh: $1 needs judging again ($why): run make setup, then save again" >&2; exit 1; }
        "$repo/.venv/bin/python" "$repo/scripts/rescore_results.py" --bench "$bench" --tasks "$tasks" --why "$why" "$1"
    done
}
cpu_name() { grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs; }
same_machine() {  # refuse, in one line, a machine other than the one the run.env $1 records
    local was_cpu was_isa
    was_cpu="$(sed -n 's/^cpu=//p' "$1" | head -1)"
    was_isa="$(sed -n 's/^isa=//p' "$1" | head -1)"
    if [ "${FORCE_MACHINE:-0}" != 1 ] && { [ "$was_cpu" != "$(cpu_name)" ] || { [ -n "$was_isa" ] && [ "$was_isa" != "$(cpu_isa)" ]; }; }; then
        echo "evidence.sh: $1 records '$was_cpu' (${was_isa:-isa not recorded}); this machine is '$(cpu_name)' ($(cpu_isa)): run it on that kind of machine (FORCE_MACHINE=1 overrides)" >&2
        exit 1
    fi
}
cpu_isa() {  # the widest matrix instructions, as selfmine.engine.numerics.cpu_isa names them
    local f; f="$(grep -m1 '^flags' /proc/cpuinfo)"
    for pair in amx:amx_bf16 avx512_bf16:avx512_bf16 avx512:avx512f avx2:avx2; do
        [[ " $f " == *" ${pair#*:} "* ]] && { echo "${pair%%:*}"; return; }
    done
    echo other
}

if [ "$verb" = save ]; then
    [ -f "$run/ledger.sqlite" ] || { echo "evidence.sh: no run at $run" >&2; exit 1; }
    code="$root/code/$(first_commit "$run.env")"
    mkdir -p "$results/run" "$results/samples"
    # a consistent copy of a ledger that may be in use (SQLite's online backup), gzipped without a timestamp
    "$code/.venv/bin/python" - "$run/ledger.sqlite" "$results/run/ledger.sqlite" <<'PY'
import sqlite3, sys
src, dst = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.close(); src.close()
PY
    gzip -nf "$results/run/ledger.sqlite"
    cp "$run/config.yaml" "$results/run/config.yaml"
    cp "$run.env" "$results/run/run.env"
    for arm in "$arms"/*.json; do
        [ -e "$arm" ] || continue
        if grep -q '"rescored"' "$results/$(basename "$arm")" 2>/dev/null; then
            # judged again since it was saved (scripts/rescore_results.py): the run's copy is older
            echo "evidence.sh: kept $(basename "$arm") as committed (rescored since the run wrote it)"
            continue
        fi
        cp "$arm" "$results/"
        "$code/.venv/bin/selfmine" eval export "$arm" --out-dir "$results/samples" >/dev/null
        rescore_if_older "$results/$(basename "$arm")" "$(first_commit "$run.env")"
    done
    rm -f "$results"/run/*.partial.jsonl  # finished since the last save: their results are above
    for part in "$arms"/*.partial.jsonl; do  # an evaluation under way: its completions so far
        [ -e "$part" ] && cp "$part" "$results/run/"
    done
    for t in "$adapters"/*/training.json; do
        [ -e "$t" ] || continue
        arm="$(basename "$(dirname "$t")")"
        [ "$arm" = selfmine ] && arm=adapter
        cp "$t" "$results/run/training-$arm.json"
    done
    if [ "$kind" = study ]; then  # the analysis and its report, once the study has finished
        for f in "$run"/study.json "$run"/study.md "$run"/study.html "$run"/*.png; do
            [ -e "$f" ] && cp "$f" "$results/run/"
        done
    else
        "$code/.venv/bin/selfmine" pairs export --run-dir "$run" --format tinyforge --out "$results/run/pairs.jsonl" >/dev/null 2>&1 || true
        [ -s "$results/run/pairs.jsonl" ] || rm -f "$results/run/pairs.jsonl"  # no pairs mined yet
    fi
    du -sh "$results"
    exit 0
fi

if [ ! -f "$run/ledger.sqlite" ] && [ -f "$results/run/ledger.sqlite.gz" ]; then
    echo "evidence.sh: restoring $run from $results (a run carried from an earlier session)"
    mkdir -p "$arms" "$adapters"
    gunzip -c "$results/run/ledger.sqlite.gz" > "$run/ledger.sqlite"
    cp "$results/run/config.yaml" "$run/config.yaml"
    cp "$results/run/run.env" "$run.env"
    for arm in "$results"/*.json; do [ -e "$arm" ] && cp "$arm" "$arms/"; done
    for part in "$results"/run/*.partial.jsonl; do [ -e "$part" ] && cp "$part" "$arms/"; done
fi
commit="$(git -C "$repo" rev-parse HEAD)"
extra=()
if [ -f "$run.env" ]; then
    commit="$(first_commit "$run.env")"
    reuse="$(sed -n 's/^reuse=//p' "$run.env" | head -1)"
    # a seed's arms are paired comparisons: all of them from one kind of machine (CPU model and instructions;
    # the run dir's own check knows only the instruction class, and an Intel and an AMD CPU share one)
    same_machine "$run.env"
    echo "evidence.sh: resuming at the run's own commit $commit"
else
    reuse=""
    if [ -n "$same_as" ]; then
        [ -f "$same_as" ] || { echo "evidence.sh: $same_as is missing: run and save the run this one builds on first" >&2; exit 1; }
        same_machine "$same_as"
    fi
    if [ -n "${REUSE_FROM:-}" ]; then
        for arm in base base@chat; do
            [ -f "$REUSE_FROM/$arm.json" ] && reuse="$reuse${reuse:+, }$arm: $(realpath "$REUSE_FROM/$arm.json")"
        done
        reuse="{$reuse}"
    fi
    if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
        echo "evidence.sh: uncommitted changes in the checkout are NOT part of this run (it runs $commit)" >&2
    fi
fi
[ -n "$reuse" ] && extra=(--set "pipeline.reuse_base=$reuse")
code="$root/code/$commit"
if [ ! -x "$code/.venv/bin/selfmine" ]; then
    mkdir -p "$root/code"
    [ -d "$code" ] || git -C "$repo" worktree add --detach "$code" "$commit" >/dev/null
    python3 -m venv "$code/.venv"
    "$code/.venv/bin/pip" install -q --upgrade pip
    "$code/.venv/bin/pip" install -q -c "$code/constraints.txt" "$code[ml,eval,qwen,dev]"
fi
mkdir -p "$root/runs"
{
    echo "commit=$commit"
    echo "config=$config"
    echo "seed=$seed"
    echo "reuse=$reuse"
    echo "started=$(date -u +%FT%TZ)"
    echo "cpu=$(cpu_name)"
    echo "isa=$(cpu_isa)"
    "$code/.venv/bin/python" -c 'import torch, transformers, peft, trl; print(f"torch={torch.__version__} transformers={transformers.__version__} peft={peft.__version__} trl={trl.__version__}")'
} >> "$run.env"
cd "$code"
if [ "$kind" = study ]; then  # the study's own seeds are in its config; SEED names the machine and pairs
    [ -z "$reuse" ] || { echo "evidence.sh: REUSE_FROM is for runs; a study takes study.reuse_base" >&2; exit 1; }
    PYTHONUNBUFFERED=1 nohup "$code/.venv/bin/selfmine" study -c "$code/$config" --run-dir "$run" --no-progress \
        >> "$run.log" 2>&1 &
else
    PYTHONUNBUFFERED=1 nohup "$code/.venv/bin/selfmine" run -c "$code/$config" --run-dir "$run" --set "seed=$seed" "${extra[@]}" --no-progress \
        >> "$run.log" 2>&1 &
fi
echo "started seed $seed of $config at $commit: log $run.log, run dir $run (pid $!)"
