#!/bin/sh
# tests/testwrapper.sh PROGRAM [ARG]...: how the test suite runs a C test
# program (it is automake's LOG_COMPILER) and, from shell tests, kubeagent
# and kubeagentd (see tests/cli/lib.sh).
#
# Normally it only runs PROGRAM.  With KA_VALGRIND set (make check-valgrind,
# on a build without sanitizers) PROGRAM runs under valgrind's memcheck:
# any memory error, or any block definitely or indirectly lost at exit,
# makes it exit 99 instead of its own status.  The report goes to stderr
# (a test program's .log), or to KA_VALGRIND_LOG (a file name; %p is the
# process id) so that a test reading a command's stderr sees only the
# command's own.  KA_VALGRIND_OPTS adds options, e.g. --track-origins=yes.
# The process id stays PROGRAM's: tests may signal it.
[ -n "${KA_VALGRIND:-}" ] || exec "$@"

: "${top_srcdir:?}" "${top_builddir:?}"
# shellcheck disable=SC2086
exec "$top_builddir/libtool" --mode=execute "${VALGRIND:-valgrind}" --tool=memcheck --quiet \
        --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
        --error-exitcode=99 --num-callers=40 --keep-debuginfo=yes --child-silent-after-fork=yes \
        --suppressions="$top_srcdir/tests/valgrind.supp" \
        ${KA_VALGRIND_LOG:+--log-file="$KA_VALGRIND_LOG"} ${KA_VALGRIND_OPTS:-} "$@"
