#!/usr/bin/env bash
# Build pyconv twice in throw-away copies of this repository and run the test suite on each:
#
#   debug    PYCONV_DEBUG=1: Cython bounds and initialisation checks on, -O0 -g
#   asan     PYCONV_SANITIZE=address,undefined: AddressSanitizer + UndefinedBehaviorSanitizer
#
# The in-place extension modules of the working tree are never rebuilt: the tracked and
# untracked (not ignored) files are copied to a temporary directory and built there, each in
# its own fresh virtual environment made with --system-site-packages (numpy, scipy, skimage,
# torch, Cython come from the system: no network needed).
#
# Usage:
#   tools/sanitize.sh [debug|asan|all] [-- pytest arguments]
#   tools/sanitize.sh all                       # the whole suite under both builds
#   tools/sanitize.sh asan -- tests/test_hardening.py -x
#
# Environment:
#   SANITIZE_WORKDIR   where the copies, venvs and logs go (default: mktemp -d)
#   SANITIZE_KEEP=1    keep the work directory afterwards (default: removed on success)
#   PYTHON             the interpreter the venvs are made from (default: python3)
#
# For ASan with an uninstrumented CPython, libasan is LD_PRELOADed (found with
# `gcc -print-file-name=libasan.so`) and leak detection is off (CPython "leaks" by design).
# UBSan reports do not stop the run; they are written to log files that are counted at the
# end: any report makes the build's result FAIL.  Summary lines go to stdout; record them in
# tools/SANITIZE.md.
set -u -o pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHICH="${1:-all}"
shift || true
if [ "${1:-}" = "--" ]; then shift; fi
PYTEST_ARGS=("$@")
if [ ${#PYTEST_ARGS[@]} -eq 0 ]; then
    PYTEST_ARGS=(tests -q -p no:cacheprovider)
fi
PYTHON="${PYTHON:-python3}"
CC_BIN="${CC:-gcc}"
WORK="${SANITIZE_WORKDIR:-$(mktemp -d -t pyconv-sanitize-XXXXXX)}"
mkdir -p "$WORK"
echo "sanitize: work directory $WORK"
echo "sanitize: $(date -u '+%Y-%m-%dT%H:%M:%SZ'), $($CC_BIN --version | head -1), $("$PYTHON" --version 2>&1)"

copy_tree() {  # copy_tree DEST: tracked + untracked-not-ignored files, no build outputs
    local dest="$1"
    mkdir -p "$dest"
    (cd "$HERE" && { git ls-files -z; git ls-files -z --others --exclude-standard; } \
        | xargs -0 -I{} sh -c 'test -f "{}" && printf "%s\0" "{}"' \
        | tar --null -T - -cf -) | (cd "$dest" && tar -xf -)
}

run_build() {  # run_build NAME ENV... : copy, venv, build, test
    local name="$1"; shift
    local dir="$WORK/$name"
    local src="$dir/src" venv="$dir/venv" logs="$dir/logs"
    rm -rf "$dir"; mkdir -p "$logs"
    copy_tree "$src"
    "$PYTHON" -m venv --system-site-packages "$venv" || return 1
    local py="$venv/bin/python"
    echo "sanitize[$name]: building ($*)"
    local t0=$SECONDS
    if ! (cd "$src" && env "$@" "$py" setup.py build_ext --inplace >"$logs/build.log" 2>&1); then
        echo "sanitize[$name]: BUILD FAILED, see $logs/build.log"; tail -30 "$logs/build.log"
        return 1
    fi
    grep -m1 "pyconv build:" "$logs/build.log" | sed "s/^/sanitize[$name]: /"
    echo "sanitize[$name]: build took $((SECONDS - t0)) s"

    local runenv=(PYTHONDONTWRITEBYTECODE=1 PYCONV_SANITIZE_BUILD="$name")
    if [ "$name" = asan ]; then
        local libasan libstdcxx
        libasan="$($CC_BIN -print-file-name=libasan.so)"
        # libstdc++ preloaded as well: otherwise ASan's __cxa_throw interceptor finds no real
        # __cxa_throw and aborts on the first C++ exception (torch raises them for bad input)
        libstdcxx="$($CC_BIN -print-file-name=libstdc++.so)"
        runenv+=(LD_PRELOAD="$libasan $libstdcxx"
                 ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:abort_on_error=1:print_summary=1:log_path=$logs/asan"
                 UBSAN_OPTIONS="print_stacktrace=1:log_path=$logs/ubsan")
    fi
    # the copy's pyconv must be the one imported (not the editable install of the working tree)
    local where
    where="$(cd "$src" && env "${runenv[@]}" "$py" -c 'import pyconv; print(pyconv.__file__)' 2>&1 | tail -1)"
    case "$where" in
        "$src"/*) echo "sanitize[$name]: testing $where" ;;
        *) echo "sanitize[$name]: WRONG pyconv imported: $where"; return 1 ;;
    esac
    t0=$SECONDS
    (cd "$src" && env "${runenv[@]}" "$py" -m pytest "${PYTEST_ARGS[@]}" >"$logs/pytest.log" 2>&1)
    local rc=$?
    local took=$((SECONDS - t0))
    local summary
    summary="$(grep -E "^(=+ )?[0-9]+ (passed|failed)|^=+ .*(passed|failed|error)" "$logs/pytest.log" | tail -1)"
    local reports=0
    reports=$(ls "$logs" | grep -c -E "^(asan|ubsan)\." || true)
    echo "sanitize[$name]: pytest ${PYTEST_ARGS[*]}: rc=$rc in ${took} s: ${summary:-no summary (crashed?)}"
    echo "sanitize[$name]: sanitizer report files: $reports"
    if [ "$reports" -gt 0 ]; then
        for f in "$logs"/asan.* "$logs"/ubsan.*; do
            [ -f "$f" ] || continue
            echo "---- $f"; head -40 "$f"
        done
    fi
    if [ $rc -ne 0 ]; then
        grep -E "^(FAILED|ERROR) " "$logs/pytest.log" | head -40
        tail -5 "$logs/pytest.log"
    fi
    [ $rc -eq 0 ] && [ "$reports" -eq 0 ]
}

status=0
case "$WHICH" in
    debug) run_build debug PYCONV_DEBUG=1 || status=1 ;;
    asan) run_build asan PYCONV_SANITIZE=address,undefined || status=1 ;;
    all)
        run_build debug PYCONV_DEBUG=1 || status=1
        run_build asan PYCONV_SANITIZE=address,undefined || status=1
        ;;
    *) echo "usage: $0 [debug|asan|all] [-- pytest args]"; exit 2 ;;
esac
echo "sanitize: overall $([ $status -eq 0 ] && echo PASS || echo FAIL); logs in $WORK"
if [ $status -eq 0 ] && [ "${SANITIZE_KEEP:-0}" = 0 ] && [ -z "${SANITIZE_WORKDIR:-}" ]; then
    rm -rf "$WORK"
fi
exit $status
