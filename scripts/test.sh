#!/usr/bin/env bash
# The whole check, as CI runs it: ruff, mypy, import-linter, then pytest on a real PostgreSQL
# (the embedded one unless DATABASE_URL is set; tests/conftest.py starts it).
#
# Every step runs even when an earlier one failed, so one run shows every problem; the exit
# status is non-zero if any step failed (pytest collecting no test, exit 5, is a failure too).
#   scripts/test.sh               everything
#   scripts/test.sh --lint-only   ruff, mypy, import-linter
#   scripts/test.sh --quick       the inner loop: ruff, then pytest without the tests tests/conftest.py
#                                 marks slow (transactional tests, whole stories), keeping the test
#                                 database between runs (`--quick -- --create-db` rebuilds it)
#   scripts/test.sh -- -k order   extra arguments after -- go to pytest
#
# pytest runs on TEST_WORKERS processes (pytest-xdist, default 2: the CI machine's cores), each with
# its own test and broker databases on the one server; TEST_WORKERS=0 runs in this process (pdb).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

lint_only=0
quick=0
pytest_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --lint-only) lint_only=1 ;;
        --quick) quick=1 ;;
        --) shift; pytest_args+=("$@"); break ;;
        *) pytest_args+=("$1") ;;
    esac
    shift
done

# shellcheck disable=SC1091
. .venv/bin/activate
export DJANGO_SETTINGS_MODULE=config.settings.test
export PYTHONDONTWRITEBYTECODE=1
# whitenoise warns on every request when STATIC_ROOT is missing; tests do not need collectstatic.
mkdir -p var/static

failed=()
step() {
    local name=$1
    shift
    echo "== $name: $*"
    if ! "$@"; then
        failed+=("$name")
        echo "== $name FAILED"
    fi
}

step ruff ruff check .
# A merge left half done: conflict markers at the start of a line in any file git tracks.
no_conflict_markers() {
    ! git grep -n -E '^(<<<<<<< |>>>>>>> )' -- . ':!*.patch'
}
step conflict-markers no_conflict_markers
if [ "$quick" -eq 1 ]; then
    pytest_args=(-m "not slow" --reuse-db "${pytest_args[@]}")
else
    # The slowest tests named in every full run, so suite time stays visible as it grows.
    pytest_args=(--durations=15 "${pytest_args[@]}")
    step mypy mypy core catalog payments members shop campaigns analytics wechat config tests
    step import-linter lint-imports --no-cache --no-logo
fi
if [ "$lint_only" -eq 0 ]; then
    # A summary line first, so pytest's own closing line stays the last one on success.
    if [ ${#failed[@]} -gt 0 ]; then
        echo "== failed so far: ${failed[*]} (running pytest anyway)"
    fi
    workers=${TEST_WORKERS:-2}
    if [ "$workers" -gt 0 ]; then
        pytest_args=(-n "$workers" --dist worksteal "${pytest_args[@]}")
    fi
    step pytest pytest -q "${pytest_args[@]}"
fi

if [ ${#failed[@]} -gt 0 ]; then
    echo "make test: FAILED: ${failed[*]}" >&2
    exit 1
fi
