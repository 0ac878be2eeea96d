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
# Usage: scripts/deps.sh [--check]   (--check: list what is missing, exit 1 if any)
set -eu

PKGS="libboost-context-dev libcriterion-dev libdw-dev golang-go gnuplot-nox pkg-config make gcc g++ cmake gdb"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi
if [ "${1:-}" = "--check" ]; then
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
