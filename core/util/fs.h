/* core/util/fs.h — files and paths. */
#ifndef KA_UTIL_FS_H
#define KA_UTIL_FS_H

#include <kubeagent/error.h>
#include <stddef.h>

/* Read a whole file of at most max bytes into a NUL-terminated malloc()ed
 * buffer.  Errors name the file: "/x/y: No such file or directory",
 * "/x/y: larger than 1048576 bytes". */
int ka_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len, struct ka_error *err);
/* Write all of data to fd, going on after EINTR and short writes; 0 or -errno. */
int ka_write_all(int fd, const void *data, size_t len);
/* Write a file atomically (temporary file + rename) with the given mode. */
int ka_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode, struct ka_error *err);

/* "~/x" → "$HOME/x"; a relative path → against base_dir (when not NULL);
 * anything else copied.  Returns a malloc()ed string. */
char *ka_path_resolve(const char *path, const char *base_dir);
/* The folder part of a path ("." for a bare name). */
char *ka_path_dirname(const char *path);
const char *ka_path_basename(const char *path);
char *ka_path_join(const char *a, const char *b);

#endif
