#!/bin/sh
# test/consumers/run.sh <prefix> <workdir>: build and run programs against
# the copy of gort installed under <prefix> (`make install PREFIX=<prefix>`),
# as a user would: the README's example through pkg-config, linked shared
# and static; the C++17 consumer; the same through CMake (find_package and
# pkg_check_modules).  Checks the soname, which library each program loaded,
# and every program's output.  Run by `make check-consumers` (make test).
set -eu

[ $# -eq 2 ] || { echo "usage: $0 <prefix> <workdir>" >&2; exit 2; }
prefix=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
readme=$src/examples/readme.c
CC=${CC:-cc}
CXX=${CXX:-c++}
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
rm -rf "$work"
mkdir -p "$work"

fail() {
	echo "consumers: FAILED: $*" >&2
	exit 1
}
# expect <what> <command...>: run it, its output must be the README
# example's (or the C++ consumer's) line.
expect() {
	what=$1
	shift
	out=$("$@" 2>&1) || fail "$what exited with status $?: $out"
	case $out in
	"gave up: deadline exceeded" | "c++ consumer: sum=30 done_closed=1 err=context canceled") ;;
	*) fail "$what printed '$out'" ;;
	esac
	echo "consumers: $what: $out"
}
# links_libgort <binary> <yes|no>: does it load libgort.so from <prefix>?
links_libgort() {
	deps=$(LD_LIBRARY_PATH="$prefix/lib" ldd "$1")
	case $2:$deps in
	yes:*"libgort.so.$soversion => $prefix/lib/"*) ;;
	no:*libgort*) fail "$1 should be linked statically, but loads: $(echo "$deps" | grep libgort)" ;;
	no:*) ;;
	*) fail "$1 does not load $prefix/lib/libgort.so.$soversion: $deps" ;;
	esac
}

# The shared library: versioned file, soname, links.
real=$(ls "$prefix"/lib/libgort.so.*.*.* 2>/dev/null | head -n 1)
[ -n "$real" ] || fail "no versioned libgort.so.X.Y.Z under $prefix/lib"
soname=$(readelf -d "$real" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
soversion=${soname#libgort.so.}
[ -n "$soname" ] && [ "$soname" != "$soversion" ] || fail "$real has no libgort.so.N soname ('$soname')"
[ -L "$prefix/lib/$soname" ] && [ -L "$prefix/lib/libgort.so" ] || fail "missing $soname or libgort.so link"
[ -f "$prefix/lib/libgort.a" ] || fail "no libgort.a"
echo "consumers: $(basename "$real"), soname $soname"

cflags=$(pkg-config --cflags gort) || fail "pkg-config does not find gort.pc"
libs=$(pkg-config --libs gort)
slibs=$(pkg-config --static --libs gort | sed 's/-lgort/-Wl,-Bstatic -lgort -Wl,-Bdynamic/')

# C11, shared and static, through pkg-config.  (Word splitting of the flags
# is wanted.)
# shellcheck disable=SC2086
$CC -std=c11 -Wall -Wextra -Wpedantic -Werror $cflags -o "$work/readme_shared" "$readme" $libs
links_libgort "$work/readme_shared" yes
expect "C, shared (pkg-config)" env LD_LIBRARY_PATH="$prefix/lib" "$work/readme_shared"
# shellcheck disable=SC2086
$CC -std=c11 -Wall -Wextra -Wpedantic -Werror $cflags -o "$work/readme_static" "$readme" $slibs
links_libgort "$work/readme_static" no
expect "C, static (pkg-config --static)" "$work/readme_static"

# C++17, shared.
# shellcheck disable=SC2086
$CXX -std=c++17 -Wall -Wextra -Werror $cflags -o "$work/consumer_cxx" "$here/consumer.cpp" $libs
links_libgort "$work/consumer_cxx" yes
expect "C++17, shared" env LD_LIBRARY_PATH="$prefix/lib" "$work/consumer_cxx"

# CMake: find_package(gort) (shared and static targets) and pkg_check_modules.
if ! cmake -S "$here" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DREADME_EXAMPLE="$readme" \
	-DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" >"$work/cmake.log" 2>&1 ||
	! cmake --build "$work/cmake" >>"$work/cmake.log" 2>&1; then
	cat "$work/cmake.log" >&2
	fail "the CMake consumer does not build"
fi
links_libgort "$work/cmake/readme_shared" yes
links_libgort "$work/cmake/readme_static" no
links_libgort "$work/cmake/readme_pkgconfig" yes
expect "CMake gort::gort" "$work/cmake/readme_shared"
expect "CMake gort::gort_static" "$work/cmake/readme_static"
expect "CMake pkg_check_modules" env LD_LIBRARY_PATH="$prefix/lib" "$work/cmake/readme_pkgconfig"
expect "CMake C++17" "$work/cmake/consumer_cxx"

# The installed tree moved as a whole: the CMake package finds itself there
# (its paths are relative to its own directory), and nothing of the old
# place is used (it is gone while the consumer builds and runs).
moved=$prefix.moved
rm -rf "$moved"
mv "$prefix" "$moved"
if ! cmake -S "$here" -B "$work/cmake-moved" -DCMAKE_PREFIX_PATH="$moved" -DREADME_EXAMPLE="$readme" \
	-DGORT_PKGCONFIG=OFF -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" >"$work/cmake-moved.log" 2>&1 ||
	! cmake --build "$work/cmake-moved" >>"$work/cmake-moved.log" 2>&1; then
	mv "$moved" "$prefix"
	cat "$work/cmake-moved.log" >&2
	fail "the CMake consumer does not build against the moved install"
fi
prefix_was=$prefix
prefix=$moved
links_libgort "$work/cmake-moved/readme_shared" yes
expect "CMake, moved install, gort::gort" env LD_LIBRARY_PATH="$moved/lib" "$work/cmake-moved/readme_shared"
expect "CMake, moved install, gort::gort_static" "$work/cmake-moved/readme_static"
prefix=$prefix_was
mv "$moved" "$prefix"
echo "consumers: static, shared, C++ and CMake builds against the installed copy work, and CMake's against it moved"
