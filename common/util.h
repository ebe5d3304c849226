/* Small helpers shared by weftd and the CNI plugin. */
#ifndef WEFT_UTIL_H
#define WEFT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Copy with truncation check: 0, or -ENAMETOOLONG when src does not fit. */
int str_copy(char *dst, size_t dst_size, const char *src);

/* Opens path (links followed) only if it is a regular file, without
 * blocking on a FIFO. flags: O_RDONLY etc. (O_CLOEXEC is added). The fd,
 * -EISDIR, -EINVAL for any other kind of file, or -errno. */
int file_open_regular(const char *path, int flags);
/* mkdir -p with mode 0755: every missing directory of path. 0 or -errno. */
int dir_make_all(const char *path);

/* Read fd to its end (at most max bytes) into a NUL-terminated heap buffer.
 * -EFBIG when there is more; -errno from read. */
int fd_read_all(int fd, size_t max, char **out, size_t *len);
/* Read a whole regular file (at most max bytes) into a NUL-terminated heap
 * buffer. -EFBIG when larger; errors as file_open_regular. */
int file_read_all(const char *path, size_t max, char **out, size_t *len);

/* Write a file atomically: a temp file "<path>.tmp.XXXXXX" with a random
 * suffix, created exclusively in the same directory, fsync, rename over
 * path. A link planted at path is replaced, never followed. */
int file_write_atomic(const char *path, const char *data, size_t len, unsigned mode);
/* The same with the caller's temp name: tmp is a mkostemp template in
 * path's directory ("...XXXXXX"), rewritten with the name used. */
int file_write_via(const char *path, char *tmp, const char *data, size_t len, unsigned mode);

/* Parse a base-10 unsigned integer in [min, max]; whole string must match. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Formats a parse error message into err (if given) and returns -EINVAL. */
int err_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Monotonic clock in milliseconds. */
uint64_t now_ms(void);

#endif
