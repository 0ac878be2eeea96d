#!/bin/sh
# Install what gort needs to build, test and benchmark, with apt-get.
# Does nothing (and needs no network) when everything is already present.
#   libboost-context-dev  Boost.Context's fcontext (make/jump/ontop_fcontext)
#   libcriterion-dev      the test framework
#   golang-go             the Go peers of the benchmark suite
#   gnuplot-nox           benchmark plots
#   libdw-dev             symbolised panic backtraces (elfutils)
#   pkg-config            used by the Makefile to find Criterion and libdw,
#                         and by the consumer tests (test/consumers)
#   gdb                   the gdb extension's test (runtime/debug/gort-gdb.py)
#   g++, cmake            the C++ and CMake consumer tests
# With --checkers, also what `make check-all` and `make fuzz` use:
#   clang, libclang-rt-N-dev   the clang build and libFuzzer (N: clang's
#                              major version; older Debians ship libFuzzer
#                              in libclang-common-N-dev, which clang pulls)
#   valgrind, cppcheck, clang-tidy
# Usage: scripts/deps.sh [--check] [--checkers]
#   (--check: list what is missing, exit 1 if any)
set -eu

PKGS="libboost-context-dev libcriterion-dev libdw-dev golang-go gnuplot-nox pkg-config make gcc g++ cmake gdb"
CHECK_ONLY=0
for a in "$@"; do
	case $a in
	--check) CHECK_ONLY=1 ;;
	--checkers) PKGS="$PKGS clang valgrind cppcheck clang-tidy" ;;
	*) echo "usage: $0 [--check] [--checkers]" >&2; exit 2 ;;
	esac
done
# libFuzzer's runtime, once clang is there (its name carries clang's version)
if [ "${PKGS%clang-tidy}" != "$PKGS" ] && command -v clang >/dev/null 2>&1; then
	v=$(clang -dumpversion | cut -d. -f1)
	if apt-cache show "libclang-rt-$v-dev" >/dev/null 2>&1; then
		PKGS="$PKGS libclang-rt-$v-dev"
	fi
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi
if [ "$CHECK_ONLY" = 1 ]; then
	echo "missing:$missing"
	exit 1
fi

echo "deps: installing$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "deps: need root (or sudo) to install:$missing" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
# clang just arrived: its libFuzzer runtime too (see above)
case " $PKGS " in *" clang-tidy "*)
	v=$(clang -dumpversion | cut -d. -f1)
	if ! dpkg-query -W -f='${Status}' "libclang-rt-$v-dev" 2>/dev/null | grep -q "install ok installed" &&
		apt-cache show "libclang-rt-$v-dev" >/dev/null 2>&1; then
		# shellcheck disable=SC2086
		$SUDO apt-get install -y -qq --no-install-recommends "libclang-rt-$v-dev" >/dev/null
	fi ;;
esac
