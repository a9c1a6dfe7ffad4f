#!/bin/sh
# SPDX-License-Identifier: MIT
# The installed library as a user gets it: `cmake --install` of this build
# into a temporary prefix, examples/open_channel.c built with nothing but
# `cc $(pkg-config --cflags --libs cvmbus)` against that prefix (and again
# with examples/Makefile), run against the installed shared library.
#
# usage: test_example.sh BUILD_DIR SOURCE_DIR WORK_DIR [CC] [SANITIZE]
# A sanitizer build's library needs its runtime first: the example is then
# built with the same compiler and -fsanitize=SANITIZE.
set -eu
build=$1 src=$2 work=$3
cc=${4:-cc}
san=${5:-}
sanflags=""
[ -n "$san" ] && sanflags="-fsanitize=$san"
prefix=$work/prefix
rm -rf "$work"
mkdir -p "$work"

fail() { echo "FAIL: $*"; echo "0 passed, 1 failed"; exit 1; }

cmake --install "$build" --prefix "$prefix" > "$work/install.log" 2>&1 ||
	{ cat "$work/install.log"; fail "cmake --install"; }
for f in lib/libcvmbus.a lib/libcvmbus.so lib/pkgconfig/cvmbus.pc bin/cvmbus \
	 include/cvmbus/vm.h include/cvmbus/vm_config.h include/cvmbus/guest.h; do
	[ -e "$prefix/$f" ] || fail "not installed: $f"
done

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs cvmbus) || fail "pkg-config cvmbus"
# The flags must point into the prefix the library was installed to.
case "$flags" in
*"-I$prefix/"*) ;;
*) fail "pkg-config gives '$flags', not the install prefix $prefix:" \
	"cvmbus.pc is not relocatable (prefix=\${pcfiledir}/../.. in cmake/cvmbus.pc.in)" ;;
esac

# shellcheck disable=SC2086 # the flags are words
"$cc" -std=c17 -Wall -Wextra -Werror $sanflags "$src/examples/open_channel.c" $flags \
	-o "$work/open_channel" || fail "building the example"
LD_LIBRARY_PATH="$prefix/lib" "$work/open_channel" > "$work/out.txt" 2>&1 ||
	{ cat "$work/out.txt"; fail "the example exited $?"; }
cat "$work/out.txt"
grep -q "^echo: ok" "$work/out.txt" || fail "no echo"
grep -q "confidential_ring_buffer" "$work/out.txt" || fail "not the confidential channel"
# It runs against the installed library, not the build tree's.
LD_LIBRARY_PATH="$prefix/lib" ldd "$work/open_channel" | grep -q "$prefix/lib/libcvmbus.so" ||
	fail "the example is not linked to the installed libcvmbus.so"

# The Makefile would build in the source tree: run it on a copy.
cp "$src/examples/open_channel.c" "$src/examples/Makefile" "$work/"
make -s -C "$work" CC="$cc" CFLAGS="-O2 -Wall -Wextra $sanflags" open_channel \
	> "$work/make.log" 2>&1 || { cat "$work/make.log"; fail "make"; }
LD_LIBRARY_PATH="$prefix/lib" "$work/open_channel" > /dev/null || fail "the Makefile's build"
echo "4 passed, 0 failed"
