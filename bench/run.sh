#!/usr/bin/env sh
# One command: build what is needed, run every benchmark, print one table.
#   bench/run.sh           full run (about 2 minutes on 2 cores)
#   bench/run.sh --quick   a few iterations each: CI's smoke check that everything builds and runs
exec python3 "$(dirname "$0")/run.py" "$@"
