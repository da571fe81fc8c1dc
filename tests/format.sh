#!/bin/sh
# The folders in FORMAT_CHECKED (Makefile.am) are clang-format clean: the
# root .clang-format, as clang-format 14 reads it.  One test per folder;
# each complaint names file:line:col.  Fix with `clang-format -i FILE`.
# Skipped without clang-format 14: other versions lay code out differently.
# Also run by `make format-check`.
. "$top_srcdir/tests/cli/lib.sh"

cf=${CLANG_FORMAT:-clang-format}
case $("$cf" --version 2>/dev/null) in
*"version 14."*) ;;
*)
        echo "1..0 # SKIP clang-format 14 not found (Debian package clang-format)"
        exit 0
        ;;
esac
cd "$top_srcdir" || exit 1
for dir in $FORMAT_CHECKED; do
        files=$(find "$dir" -name '*.[ch]' | LC_ALL=C sort)
        out=$("$cf" --dry-run -Werror --style=file $files 2>&1)
        ok $? "$dir is clang-format clean"
        [ -n "$out" ] || continue
        printf '%s\n' "$out" | grep ': error: ' | head -n 20 | sed 's/^/# /'
        printf '%s\n' "$out" | sed -n 's/^\([^ :]*\):.*: error: .*/\1/p' | sort -u | sed 's/^/# to fix: clang-format -i /'
done
done_testing
