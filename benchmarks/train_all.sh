#!/usr/bin/env bash
# The benchmark training runs of issue 3, one after another (2 CPU cores: never in
# parallel), the ArcFace runs first (they become the default models). Each logs to
# runs/<name>.log. A run stopped by its --max-minutes budget before its last epoch is resumed
# (same schedule) up to SESSIONS times; an interrupted run resumes the same way.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs
run() {  # name sessions
  local name=$1 sessions=$2 extra
  for ((i = 0; i < sessions; i++)); do
    [ -f "runs/$name.done" ] && return
    if [ -f "runs/$name/last.pt" ]; then extra=(--resume); else extra=(); fi
    nice -n -10 "benchmarks/train_$name.sh" "${extra[@]}" >> "runs/$name.log" 2>&1 || return
    grep -q "completed after" "runs/$name.log" && touch "runs/$name.done"
  done
}
run face_arcface 3
run voice_arcface 2
run voice_triplet 1
run face_arcface_long 2
run face_triplet 1
