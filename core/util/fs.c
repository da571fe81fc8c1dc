#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "mem.h"

int ka_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len, struct ka_error *err) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return ka_error_set(err, -errno, "%s: %s", path, strerror(errno));
        struct stat st;
        if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
                int e = S_ISDIR(st.st_mode) ? EISDIR : errno;
                close(fd);
                return ka_error_set(err, -e, "%s: %s", path, strerror(e));
        }
        struct ka_buf b = KA_BUF_INIT_SECRET(max); /* a token file, a key */
        char chunk[65536];
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;
                        close(fd);
                        ka_buf_free_secret(&b);
                        return ka_error_set(err, -e, "%s: %s", path, strerror(e));
                }
                if (n == 0)
                        break;
                if (ka_buf_append(&b, chunk, (size_t)n) < 0) {
                        close(fd);
                        ka_buf_free_secret(&b);
                        ka_wipe(chunk, sizeof(chunk));
                        return ka_error_set(err, -EFBIG, "%s: larger than %zu bytes", path, max);
                }
        }
        ka_wipe(chunk, sizeof(chunk));
        close(fd);
        if (ret_len)
                *ret_len = b.len;
        *ret_data = ka_buf_steal(&b);
        return 0;
}

int ka_write_all(int fd, const void *data, size_t len) {
        const char *p = data;
        while (len) {
                ssize_t w = write(fd, p, len);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -errno;
                if (w == 0)
                        return -EIO;
                p += w;
                len -= (size_t)w;
        }
        return 0;
}

int ka_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode, struct ka_error *err) {
        _cleanup_free_ char *tmp = ka_asprintf("%s.tmp.%ld", path, (long)getpid());
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return ka_error_set(err, -errno, "%s: %s", tmp, strerror(errno));
        int r = ka_write_all(fd, data, len);
        if (r < 0) {
                close(fd);
                unlink(tmp);
                return ka_error_set(err, r, "%s: %s", tmp, strerror(-r));
        }
        if (close(fd) < 0 || rename(tmp, path) < 0) {
                int e = errno;
                unlink(tmp);
                return ka_error_set(err, -e, "%s: %s", path, strerror(e));
        }
        return 0;
}

char *ka_path_join(const char *a, const char *b) {
        size_t n = strlen(a);
        if (n && a[n - 1] == '/')
                return ka_asprintf("%s%s", a, b);
        return ka_asprintf("%s/%s", a, b);
}

char *ka_path_resolve(const char *path, const char *base_dir) {
        if (!path)
                return NULL;
        if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
                const char *home = getenv("HOME");
                if (home && *home)
                        return ka_asprintf("%s%s", home, path + 1);
        }
        if (path[0] != '/' && base_dir && *base_dir && strcmp(base_dir, ".") != 0)
                return ka_path_join(base_dir, path);
        return ka_strdup(path);
}

char *ka_path_dirname(const char *path) {
        const char *slash = strrchr(path, '/');
        if (!slash)
                return ka_strdup(".");
        if (slash == path)
                return ka_strdup("/");
        return ka_strndup(path, (size_t)(slash - path));
}

const char *ka_path_basename(const char *path) {
        const char *slash = strrchr(path, '/');
        return slash ? slash + 1 : path;
}
