#!/usr/bin/env bash
# The full test run (what `make test` and CI run): set up what is missing, start the
# stack, run pytest, and always stop the stack again. Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
LABS=.venv/bin/labs
started_here=0
if ! $LABS stack status >/dev/null 2>&1; then started_here=1; fi
$LABS stack up || { echo "the stack did not start; see var/logs/ (labs stack logs SERVICE)" >&2; $LABS stack down; exit 1; }
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$started_here" = 1 ] || [ "${CI:-}" = true ]; then $LABS stack down; fi
exit $rc
