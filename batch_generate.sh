#!/usr/bin/env bash
# Exercise 2.9: generate a completion for every line of a prompts file, one file each.
#
#   bash batch_generate.sh PROMPTS_FILE OUT_DIR [more vlesson batch options]
#   bash batch_generate.sh prompts.txt results --max-tokens 32 --seed 7
#
# The exercise's loop starts Python, vLLM and the model once per prompt. This runs the
# same task as ONE process and one batched call (`vlesson batch`): the model loads
# once and vLLM generates all prompts together. Each result goes to its own file in
# OUT_DIR (named by line number and hash, never by prompt text); OUT_DIR/manifest.jsonl
# lists prompt, file, parameters, tokens and time. Run it again to resume.
set -euo pipefail

if [[ $# -lt 2 || "$1" == -* || "$2" == -* ]]; then
    echo "usage: bash batch_generate.sh PROMPTS_FILE OUT_DIR [vlesson batch options]" >&2
    exit 2
fi
prompts_file=$1
out_dir=$2
shift 2

if command -v vlesson >/dev/null; then
    vlesson=(vlesson)
else
    vlesson=("${PYTHON:-python3}" -m vlesson)
fi
# The exercise's settings, unless the extra options give their own.
defaults=()
[[ " $* " == *" --temperature"* ]] || defaults+=(--temperature 0.8)
[[ " $* " == *" --max-tokens"* ]] || defaults+=(--max-tokens 100)
exec "${vlesson[@]}" batch --prompts-file "$prompts_file" --out "$out_dir" \
    "${defaults[@]}" "$@"
