/*
 * fixed_env.c - LD_PRELOAD shim that makes the real `fwknop` client
 * deterministic, for generating reproducible SPA test vectors.
 *
 *   FKO_FIXED_TIME=<unix seconds>
 *       time(), gettimeofday() and clock_gettime(CLOCK_REALTIME*) report
 *       this value (microseconds / nanoseconds = 0).  Monotonic and CPU
 *       clocks are left alone.
 *
 *   FKO_FIXED_RAND=<hex bytes>   (e.g. "9a9c068423ac135d")
 *       Every open of /dev/urandom (or /dev/random) yields a stream that
 *       starts at the first of these bytes and repeats them cyclically for
 *       as long as it is read.  Each open starts again at offset 0.  This
 *       covers both fopen()+fread() (what libfko uses: 4 bytes for the
 *       srand() seed, 8 bytes for the salt) and open()+read().
 *       getrandom()/getentropy() return the same cyclic stream.
 *
 * An unset (or unparsable) variable leaves the corresponding behaviour
 * untouched.
 *
 * Build:  cc -shared -fPIC -o fixed_env.so fixed_env.c -ldl
 * Use:    LD_PRELOAD=./fixed_env.so FKO_FIXED_TIME=1700000000 \
 *         FKO_FIXED_RAND=9a9c068423ac135d fwknop --test ...
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* glibc declares tv/ts nonnull; we still guard against NULL callers. */
#pragma GCC diagnostic ignored "-Wnonnull-compare"

/* ------------------------------------------------------------------ */
/* configuration                                                      */
/* ------------------------------------------------------------------ */

#define MAX_RAND_BYTES 1024
#define MAX_TRACKED_FD 4096

static int           cfg_loaded;
static int           have_time;
static time_t        fixed_time;
static int           have_rand;
static unsigned char rand_bytes[MAX_RAND_BYTES];
static size_t        rand_len;

/* offset+1 into the cyclic stream for each fd we serve (0 = not ours) */
static size_t fd_pos[MAX_TRACKED_FD];

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void load_cfg(void)
{
    const char *t, *r;
    if (cfg_loaded)
        return;
    cfg_loaded = 1;

    t = getenv("FKO_FIXED_TIME");
    if (t != NULL && *t != '\0') {
        char *end = NULL;
        long long v = strtoll(t, &end, 10);
        if (end != NULL && *end == '\0') {
            fixed_time = (time_t)v;
            have_time = 1;
        }
    }

    r = getenv("FKO_FIXED_RAND");
    if (r != NULL && *r != '\0') {
        size_t n = strlen(r), i;
        if (n % 2 == 0 && n / 2 <= MAX_RAND_BYTES) {
            for (i = 0; i < n / 2; i++) {
                int hi = hexval((unsigned char)r[2 * i]);
                int lo = hexval((unsigned char)r[2 * i + 1]);
                if (hi < 0 || lo < 0)
                    break;
                rand_bytes[i] = (unsigned char)(hi << 4 | lo);
            }
            if (i == n / 2) {
                rand_len = n / 2;
                have_rand = 1;
            }
        }
        if (!have_rand)
            fprintf(stderr, "fixed_env: ignoring malformed FKO_FIXED_RAND\n");
    }
}

static void fill_cyclic(void *buf, size_t len, size_t *pos)
{
    unsigned char *p = buf;
    size_t i;
    for (i = 0; i < len; i++) {
        p[i] = rand_bytes[*pos % rand_len];
        (*pos)++;
    }
}

static int is_rand_path(const char *path)
{
    return path != NULL &&
           (strcmp(path, "/dev/urandom") == 0 || strcmp(path, "/dev/random") == 0);
}

#define REAL(name) real_##name
#define LOAD_REAL(name)                                                     \
    do {                                                                    \
        if (REAL(name) == NULL)                                             \
            *(void **)(&REAL(name)) = dlsym(RTLD_NEXT, #name);              \
    } while (0)

/* ------------------------------------------------------------------ */
/* clock                                                              */
/* ------------------------------------------------------------------ */

static time_t (*real_time)(time_t *);
static int (*real_gettimeofday)(struct timeval *, void *);
static int (*real_clock_gettime)(clockid_t, struct timespec *);

time_t time(time_t *tloc)
{
    load_cfg();
    if (have_time) {
        if (tloc != NULL)
            *tloc = fixed_time;
        return fixed_time;
    }
    LOAD_REAL(time);
    return real_time(tloc);
}

int gettimeofday(struct timeval *tv, void *tz)
{
    load_cfg();
    if (have_time) {
        if (tv != NULL) {
            tv->tv_sec = fixed_time;
            tv->tv_usec = 0;
        }
        if (tz != NULL)
            memset(tz, 0, sizeof(struct timezone));
        return 0;
    }
    LOAD_REAL(gettimeofday);
    return real_gettimeofday(tv, tz);
}

int clock_gettime(clockid_t clk, struct timespec *ts)
{
    load_cfg();
    if (have_time && (clk == CLOCK_REALTIME
#ifdef CLOCK_REALTIME_COARSE
                      || clk == CLOCK_REALTIME_COARSE
#endif
                      )) {
        if (ts != NULL) {
            ts->tv_sec = fixed_time;
            ts->tv_nsec = 0;
        }
        return 0;
    }
    LOAD_REAL(clock_gettime);
    return real_clock_gettime(clk, ts);
}

/* ------------------------------------------------------------------ */
/* stdio: fopen("/dev/urandom") -> cookie stream                      */
/* ------------------------------------------------------------------ */

struct rand_cookie {
    size_t pos;
};

static ssize_t cookie_read(void *c, char *buf, size_t size)
{
    struct rand_cookie *rc = c;
    fill_cyclic(buf, size, &rc->pos);
    return (ssize_t)size;
}

static int cookie_close(void *c)
{
    free(c);
    return 0;
}

static FILE *rand_stream(void)
{
    cookie_io_functions_t io;
    struct rand_cookie *c = calloc(1, sizeof(*c));
    FILE *f;
    if (c == NULL)
        return NULL;
    memset(&io, 0, sizeof(io));
    io.read = cookie_read;
    io.close = cookie_close;
    f = fopencookie(c, "r", io);
    if (f == NULL)
        free(c);
    return f;
}

static FILE *(*real_fopen)(const char *, const char *);
static FILE *(*real_fopen64)(const char *, const char *);
static FILE *(*real_fdopen)(int, const char *);

FILE *fopen(const char *path, const char *mode)
{
    load_cfg();
    if (have_rand && is_rand_path(path))
        return rand_stream();
    LOAD_REAL(fopen);
    return real_fopen(path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
    load_cfg();
    if (have_rand && is_rand_path(path))
        return rand_stream();
    LOAD_REAL(fopen64);
    return real_fopen64(path, mode);
}

/* ------------------------------------------------------------------ */
/* fd level: open("/dev/urandom") + read()                            */
/* ------------------------------------------------------------------ */

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real___open_2)(const char *, int);
static int (*real___open64_2)(const char *, int);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real___read_chk)(int, void *, size_t, size_t);
static int (*real_close)(int);

/* After a real open returned fd: mark it as ours (or clear stale marks). */
static int track(int fd, const char *path)
{
    if (fd >= 0 && fd < MAX_TRACKED_FD)
        fd_pos[fd] = (have_rand && is_rand_path(path)) ? 1 : 0;
    return fd;
}

static int has_mode(int flags)
{
#ifdef O_TMPFILE
    if ((flags & O_TMPFILE) == O_TMPFILE)
        return 1;
#endif
    return (flags & O_CREAT) != 0;
}

int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    load_cfg();
    if (has_mode(flags)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    LOAD_REAL(open);
    return track(real_open(path, flags, mode), path);
}

int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    load_cfg();
    if (has_mode(flags)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    LOAD_REAL(open64);
    return track(real_open64(path, flags, mode), path);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    load_cfg();
    if (has_mode(flags)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    LOAD_REAL(openat);
    return track(real_openat(dirfd, path, flags, mode), path);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    load_cfg();
    if (has_mode(flags)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    LOAD_REAL(openat64);
    return track(real_openat64(dirfd, path, flags, mode), path);
}

int __open_2(const char *path, int flags)
{
    load_cfg();
    LOAD_REAL(__open_2);
    return track(real___open_2(path, flags), path);
}

int __open64_2(const char *path, int flags)
{
    load_cfg();
    LOAD_REAL(__open64_2);
    return track(real___open64_2(path, flags), path);
}

ssize_t read(int fd, void *buf, size_t count)
{
    if (fd >= 0 && fd < MAX_TRACKED_FD && fd_pos[fd] != 0 && have_rand) {
        size_t pos = fd_pos[fd] - 1;
        fill_cyclic(buf, count, &pos);
        fd_pos[fd] = pos + 1;
        return (ssize_t)count;
    }
    LOAD_REAL(read);
    return real_read(fd, buf, count);
}

ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen)
{
    if (fd >= 0 && fd < MAX_TRACKED_FD && fd_pos[fd] != 0 && have_rand) {
        if (count > buflen)
            abort();
        return read(fd, buf, count);
    }
    LOAD_REAL(__read_chk);
    return real___read_chk(fd, buf, count, buflen);
}

int close(int fd)
{
    if (fd >= 0 && fd < MAX_TRACKED_FD)
        fd_pos[fd] = 0;
    LOAD_REAL(close);
    return real_close(fd);
}

/* fdopen() of one of our fds: stdio would bypass read(), so hand out a
 * cookie stream continuing at the fd's position instead. */
FILE *fdopen(int fd, const char *mode)
{
    load_cfg();
    if (fd >= 0 && fd < MAX_TRACKED_FD && fd_pos[fd] != 0 && have_rand) {
        FILE *f = rand_stream();
        if (f != NULL) {
            LOAD_REAL(close);
            fd_pos[fd] = 0;
            real_close(fd);
        }
        return f;
    }
    LOAD_REAL(fdopen);
    return real_fdopen(fd, mode);
}

/* ------------------------------------------------------------------ */
/* getrandom / getentropy                                             */
/* ------------------------------------------------------------------ */

static ssize_t (*real_getrandom)(void *, size_t, unsigned int);
static int (*real_getentropy)(void *, size_t);

ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
    load_cfg();
    if (have_rand) {
        size_t pos = 0;
        fill_cyclic(buf, len, &pos);
        return (ssize_t)len;
    }
    LOAD_REAL(getrandom);
    return real_getrandom(buf, len, flags);
}

int getentropy(void *buf, size_t len)
{
    load_cfg();
    if (have_rand) {
        size_t pos = 0;
        if (len > 256) {
            errno = EIO;
            return -1;
        }
        fill_cyclic(buf, len, &pos);
        return 0;
    }
    LOAD_REAL(getentropy);
    return real_getentropy(buf, len);
}
