/*
  chrony-ptpkvm guest simulator

  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  This program is distributed in the hope that it will be useful, but
  WITHOUT ANY WARRANTY; without even the implied warranty of
  MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the GNU
  General Public License for more details.

  SPDX-License-Identifier: GPL-2.0-only

  =======================================================================

  The libc entry points of the LD_PRELOAD simulator (libsimguest.so).
  Time reads, clock control, the PHC devices, sysfs lookups and every
  waiting call of the process are routed into the model.  Waiting calls
  first check the real descriptors with a zero timeout; if none is ready,
  virtual time jumps to the timeout (SIM_PACE=0) or moves at SIM_PACE
  times real time while really waiting in short slices (SIM_PACE=k).  At
  the scenario end the truth log is flushed and SIGTERM is raised so that
  chronyd exits cleanly.  No clock-control call ever reaches the kernel;
  unmodelled requests abort.  A forked child (chronyd's helper) runs
  against the real clocks for reads and waits only.
  */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/select.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

int (*SIM_real_open)(const char *, int, ...);
int (*SIM_real_close)(int);
int (*SIM_real_clock_gettime)(clockid_t, struct timespec *);

static int (*real_openat)(int, const char *, int, ...);
static FILE *(*real_fopen)(const char *, const char *);
static DIR *(*real_opendir)(const char *);
static int (*real_stat)(const char *, struct stat *);
static int (*real_lstat)(const char *, struct stat *);
static int (*real_fstatat)(int, const char *, struct stat *, int);
static int (*real_fstat)(int, struct stat *);
static int (*real_access)(const char *, int);
static ssize_t (*real_readlink)(const char *, char *, size_t);
static char *(*real_realpath)(const char *, char *);
static ssize_t (*real_read)(int, void *, size_t);
static int (*real_ioctl)(int, unsigned long, ...);
static int (*real_select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
static int (*real_pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *,
                           const sigset_t *);
static int (*real_ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
static int (*real_nanosleep)(const struct timespec *, struct timespec *);
static int (*real_clock_getres)(clockid_t, struct timespec *);
static void *(*real_seccomp_init)(unsigned int);
static int (*real_seccomp_load)(void *);

/* libseccomp's argument comparison (seccomp.h), defined here so that the
   simulator builds without libseccomp-dev */
struct sim_scmp_arg_cmp {
  unsigned int arg;
  int op;
  unsigned long long datum_a, datum_b;
};
#define SIM_SCMP_CMP_EQ 4

static int init_state;           /* 0 = not yet, 1 = initialising, 2 = ready */
static int in_child;
static int end_signalled;
static unsigned long post_end_waits;

/* ================================================== */

static void *
must_sym(const char *name)
{
  void *p = dlsym(RTLD_NEXT, name);

  if (!p) {
    fprintf(stderr, "SIM FATAL: no libc symbol %s\n", name);
    abort();
  }
  return p;
}

/* Flush before fork, so that a child exiting with exit() cannot write a
   copy of buffered truth-log lines */
static void
flush_before_fork(void)
{
  if (init_state == 2 && !in_child)
    SIM_Flush();
}

static void
child_after_fork(void)
{
  in_child = 1;
}

static void
init(void)
{
  static char dir[256];
  const char *d;

  if (init_state)
    return;
  init_state = 1;

  SIM_real_open = must_sym("open");
  SIM_real_close = must_sym("close");
  SIM_real_clock_gettime = must_sym("clock_gettime");
  real_openat = must_sym("openat");
  real_fopen = must_sym("fopen");
  real_opendir = must_sym("opendir");
  real_stat = must_sym("stat");
  real_lstat = must_sym("lstat");
  real_fstatat = must_sym("fstatat");
  real_fstat = must_sym("fstat");
  real_access = must_sym("access");
  real_readlink = must_sym("readlink");
  real_realpath = must_sym("realpath");
  real_read = must_sym("read");
  real_ioctl = must_sym("ioctl");
  real_select = must_sym("select");
  real_pselect = must_sym("pselect");
  real_ppoll = must_sym("ppoll");
  real_nanosleep = must_sym("nanosleep");
  real_clock_getres = must_sym("clock_getres");
  real_seccomp_init = dlsym(RTLD_NEXT, "seccomp_init");
  real_seccomp_load = dlsym(RTLD_NEXT, "seccomp_load");

  d = getenv("SIM_DIR");
  if (d) {
    snprintf(dir, sizeof (dir), "%s", d);
  } else {
    snprintf(dir, sizeof (dir), "/tmp/simguest.XXXXXX");
    if (!mkdtemp(dir))
      SIM_Fatal("mkdtemp failed");
  }

  SIM_Init(dir);
  pthread_atfork(flush_before_fork, NULL, child_after_fork);
  init_state = 2;
}

__attribute__((constructor)) static void
constructor(void)
{
  init();
}

__attribute__((destructor)) static void
destructor(void)
{
  if (init_state == 2 && !in_child) {
    SIM_CheckEnd();
    SIM_LogExit();
    SIM_Flush();
  }
}

int
SIM_Routed(void)
{
  return init_state == 2 && !in_child;
}

/* Route this call into the model? */
static int
sim(void)
{
  if (!init_state)
    init();
  return init_state == 2 && !in_child;
}

/* ================================================== */
/* Time reads */

static int
phc_clock_fd(clockid_t clk)
{
  int fd;

  if (clk >= 0 || (clk & 7) != 3)
    return -1;
  fd = (int)((~(unsigned int)clk) >> 3);
  return SIM_PhcIsFake(fd) ? fd : -1;
}

int
clock_gettime(clockid_t clk, struct timespec *ts)
{
  int fd;

  if (!sim() || clk == CLOCK_PROCESS_CPUTIME_ID || clk == CLOCK_THREAD_CPUTIME_ID)
    return SIM_real_clock_gettime(clk, ts);
  if ((fd = phc_clock_fd(clk)) >= 0)
    return SIM_PhcGettime(fd, ts);
  if (clk < 0)
    SIM_Fatal("clock_gettime on dynamic clock %d not modelled", (int)clk);
  return SIM_ReadClock(clk, ts);
}

int
clock_getres(clockid_t clk, struct timespec *ts)
{
  if (sim() && phc_clock_fd(clk) >= 0) {
    if (ts) {
      ts->tv_sec = 0;
      ts->tv_nsec = 1;
    }
    return 0;
  }
  return real_clock_getres ? real_clock_getres(clk, ts) :
         ((int (*)(clockid_t, struct timespec *))must_sym("clock_getres"))(clk, ts);
}

int
gettimeofday(struct timeval *tv, void *tz)
{
  struct timespec ts;

  if (!sim()) {
    SIM_real_clock_gettime(CLOCK_REALTIME, &ts);
  } else {
    if (tz)
      SIM_Fatal("gettimeofday() with a timezone not modelled");
    SIM_ReadClock(CLOCK_REALTIME, &ts);
  }
  if (tv) {
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
  }
  return 0;
}

time_t
time(time_t *t)
{
  struct timespec ts;

  if (sim())
    SIM_ReadClock(CLOCK_REALTIME, &ts);
  else
    SIM_real_clock_gettime(CLOCK_REALTIME, &ts);
  if (t)
    *t = ts.tv_sec;
  return ts.tv_sec;
}

/* ================================================== */
/* Clock control: never reaches the kernel */

static void
control_init(void)
{
  if (!init_state)
    init();
  if (init_state != 2)
    SIM_Fatal("clock control before the simulator is initialised");
  if (in_child)
    SIM_Fatal("clock control from a forked child not modelled");
}

int
adjtimex(struct timex *txc)
{
  control_init();
  return SIM_Adjtimex(txc);
}

int
__adjtimex(struct timex *txc)
{
  return adjtimex(txc);
}

int
ntp_adjtime(struct timex *txc)
{
  return adjtimex(txc);
}

int
clock_adjtime(clockid_t clk, struct timex *txc)
{
  control_init();
  if (clk == CLOCK_REALTIME)
    return SIM_Adjtimex(txc);
  if (phc_clock_fd(clk) >= 0) {
    /* ptp_kvm cannot be adjusted: only a read is modelled */
    if (txc->modes == 0) {
      memset(txc, 0, sizeof (*txc));
      return TIME_OK;
    }
    errno = EOPNOTSUPP;
    return -1;
  }
  SIM_Fatal("clock_adjtime(%d, modes=0x%x) not modelled", (int)clk, txc->modes);
}

int
clock_settime(clockid_t clk, const struct timespec *ts)
{
  control_init();
  if (clk == CLOCK_REALTIME)
    return SIM_SetRealtime(ts);
  if (phc_clock_fd(clk) >= 0) {
    errno = EOPNOTSUPP;
    return -1;
  }
  SIM_Fatal("clock_settime(%d) not modelled", (int)clk);
}

int
settimeofday(const struct timeval *tv, const struct timezone *tz)
{
  struct timespec ts;

  control_init();
  if (tz)
    SIM_Fatal("settimeofday() with a timezone not modelled");
  if (!tv)
    return 0;
  ts.tv_sec = tv->tv_sec;
  ts.tv_nsec = tv->tv_usec * 1000;
  return SIM_SetRealtime(&ts);
}

/* ================================================== */
/* Waiting */

typedef int (*Probe)(void *ctx, const struct timespec *real_timeout);

static void
real_now(struct timespec *ts)
{
  SIM_real_clock_gettime(CLOCK_MONOTONIC, ts);
}

static int
at_end(void)
{
  if (!end_signalled) {
    end_signalled = 1;
    SIM_Flush();
    if (!getenv("SIM_NO_TERM"))
      raise(SIGTERM);
    errno = EINTR;
    return -1;
  }
  if (++post_end_waits > 100000) {
    fprintf(stderr, "SIM: process did not exit after the scenario end\n");
    SIM_Flush();
    _exit(3);
  }
  return 0;
}

/* Wait for timeout seconds of guest MONOTONIC time (< 0 = forever) */
static int
wait_common(SIM_Time timeout, Probe probe, void *ctx)
{
  /* an NTP answer just sent on the loopback is readable within this */
  struct timespec zero = {0, 0}, network = {0, 100000000}, slice, t0, t1;
  SIM_Time remaining = timeout < 0 ? 1e12L : timeout, adv, elapsed, target;
  double pace = SIM_sc.pace;
  int r;

  /* Paced runs are watched live (demo): keep the truth log current */
  if (pace > 0.0)
    SIM_Flush();

  if (SIM_Ended()) {
    if ((r = probe(ctx, &zero)) != 0)
      return r;
    SIM_AdvanceTrue(1e-6);
    return at_end();
  }

  if (pace <= 0.0) {
    for (;;) {
      if (SIM_QueryDue() && (r = SIM_QueryServe(probe, ctx)) != 0)
        return r;
      if ((r = probe(ctx, SIM_NtpDeliver() ? &network : &zero)) != 0) {
        SIM_AdvanceTrue(1e-6);
        return r;
      }
      target = SIM_MonoNow() + remaining;
      if (SIM_AdvanceMono(remaining))
        return at_end();
      /* Stopped early for a due query or an NTP answer: serve it, then
         wait for the rest */
      if ((remaining = target - SIM_MonoNow()) <= 0)
        return 0;
    }
  }

  for (;;) {
    if (SIM_QueryDue() && (r = SIM_QueryServe(probe, ctx)) != 0)
      return r;
    SIM_NtpDeliver();
    adv = remaining / pace < 0.02L ? remaining : 0.02L * pace;
    SIM_ToTimespec(adv / pace, &slice);
    real_now(&t0);
    r = probe(ctx, &slice);
    real_now(&t1);
    if (r != 0) {
      elapsed = SIM_FromTimespec(&t1) - SIM_FromTimespec(&t0);
      adv = elapsed * pace < remaining ? elapsed * pace : remaining;
      if (SIM_AdvanceMono(adv))
        return at_end();
      return r;
    }
    target = SIM_MonoNow() + adv;
    if (SIM_AdvanceMono(adv))
      return at_end();
    remaining -= adv - (target - SIM_MonoNow());
    if (remaining <= 0)
      return 0;
  }
}

struct select_ctx {
  int nfds;
  fd_set *r, *w, *e;
  fd_set r0, w0, e0;
};

static int
select_probe(void *c, const struct timespec *timeout)
{
  struct select_ctx *x = c;
  struct timeval tv = {timeout->tv_sec, timeout->tv_nsec / 1000};

  if (x->r)
    *x->r = x->r0;
  if (x->w)
    *x->w = x->w0;
  if (x->e)
    *x->e = x->e0;
  return real_select(x->nfds, x->r, x->w, x->e, &tv);
}

static int
do_select(int nfds, fd_set *r, fd_set *w, fd_set *e, SIM_Time timeout)
{
  struct select_ctx x = {nfds, r, w, e};

  if (r)
    x.r0 = *r;
  if (w)
    x.w0 = *w;
  if (e)
    x.e0 = *e;
  return wait_common(timeout, select_probe, &x);
}

int
select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
  int ret;

  if (!sim())
    return real_select(nfds, r, w, e, tv);
  ret = do_select(nfds, r, w, e, tv ? tv->tv_sec + tv->tv_usec * 1e-6L : -1.0L);
  if (ret == 0 && tv)
    tv->tv_sec = tv->tv_usec = 0;
  return ret;
}

int
pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts,
        const sigset_t *mask)
{
  if (!sim())
    return real_pselect(nfds, r, w, e, ts, mask);
  /* The signal mask is not applied during virtual waits */
  return do_select(nfds, r, w, e, ts ? SIM_FromTimespec(ts) : -1.0L);
}

struct poll_ctx {
  struct pollfd *fds;
  nfds_t n;
  const sigset_t *mask;
};

static int
poll_probe(void *c, const struct timespec *timeout)
{
  struct poll_ctx *x = c;

  return real_ppoll(x->fds, x->n, timeout, x->mask);
}

int
ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
  struct poll_ctx x = {fds, n, mask};

  if (!sim())
    return real_ppoll(fds, n, ts, mask);
  return wait_common(ts ? SIM_FromTimespec(ts) : -1.0L, poll_probe, &x);
}

int
poll(struct pollfd *fds, nfds_t n, int ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

  return ppoll(fds, n, ms < 0 ? NULL : &ts, NULL);
}

int
__poll_chk(struct pollfd *fds, nfds_t n, int ms, size_t len)
{
  (void)len;
  return poll(fds, n, ms);
}

int
__ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask,
            size_t len)
{
  (void)len;
  return ppoll(fds, n, ts, mask);
}

static int
sleep_probe(void *c, const struct timespec *timeout)
{
  (void)c;
  if (timeout->tv_sec || timeout->tv_nsec)
    real_nanosleep(timeout, NULL);
  return 0;
}

int
nanosleep(const struct timespec *req, struct timespec *rem)
{
  if (!sim())
    return real_nanosleep(req, rem);
  if (req->tv_nsec < 0 || req->tv_nsec >= 1000000000L) {
    errno = EINVAL;
    return -1;
  }
  if (rem)
    rem->tv_sec = rem->tv_nsec = 0;
  return wait_common(SIM_FromTimespec(req), sleep_probe, NULL) < 0 ? -1 : 0;
}

int
clock_nanosleep(clockid_t clk, int flags, const struct timespec *req, struct timespec *rem)
{
  struct timespec now;

  if (!sim())
    return ((int (*)(clockid_t, int, const struct timespec *, struct timespec *))
            must_sym("clock_nanosleep"))(clk, flags, req, rem);
  if (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC && clk != CLOCK_BOOTTIME)
    SIM_Fatal("clock_nanosleep on clock %d not modelled", (int)clk);
  if (!(flags & TIMER_ABSTIME)) {
    if (rem)
      rem->tv_sec = rem->tv_nsec = 0;
    return wait_common(SIM_FromTimespec(req), sleep_probe, NULL) < 0 ? EINTR : 0;
  }
  if (SIM_sc.pace > 0.0) {
    SIM_ReadClock(clk, &now);
    if (wait_common(SIM_FromTimespec(req) - SIM_FromTimespec(&now), sleep_probe, NULL) < 0)
      return EINTR;
  }
  if (SIM_AdvanceUntilClock(clk, SIM_FromTimespec(req)))
    return at_end() < 0 ? EINTR : 0;
  return 0;
}

unsigned int
sleep(unsigned int s)
{
  struct timespec ts = {s, 0};

  nanosleep(&ts, NULL);
  return 0;
}

int
usleep(useconds_t us)
{
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};

  return nanosleep(&ts, NULL);
}

/* ================================================== */
/* Files, devices and sysfs */

static int
open_common(int dirfd, const char *path, int flags, mode_t mode, int at)
{
  char buf[PATH_MAX];
  int fd;

  if (sim()) {
    if (SIM_PhcOpen(path, &fd))
      return fd;
    path = SIM_PhcMapPath(path, buf, sizeof (buf));
  }
  if (at)
    return real_openat(dirfd, path, flags, mode);
  return SIM_real_open(path, flags, mode);
}

static mode_t
get_mode(int flags, va_list ap)
{
  return (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
}

int
open(const char *path, int flags, ...)
{
  va_list ap;
  mode_t m;

  va_start(ap, flags);
  m = get_mode(flags, ap);
  va_end(ap);
  if (!init_state)
    init();
  return open_common(AT_FDCWD, path, flags, m, 0);
}

int
open64(const char *path, int flags, ...)
{
  va_list ap;
  mode_t m;

  va_start(ap, flags);
  m = get_mode(flags, ap);
  va_end(ap);
  return open_common(AT_FDCWD, path, flags, m, 0);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
  va_list ap;
  mode_t m;

  va_start(ap, flags);
  m = get_mode(flags, ap);
  va_end(ap);
  if (!init_state)
    init();
  return open_common(dirfd, path, flags, m, 1);
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
  va_list ap;
  mode_t m;

  va_start(ap, flags);
  m = get_mode(flags, ap);
  va_end(ap);
  return open_common(dirfd, path, flags, m, 1);
}

int
__open_2(const char *path, int flags)
{
  return open_common(AT_FDCWD, path, flags, 0, 0);
}

int
__open64_2(const char *path, int flags)
{
  return open_common(AT_FDCWD, path, flags, 0, 0);
}

int
__openat_2(int dirfd, const char *path, int flags)
{
  return open_common(dirfd, path, flags, 0, 1);
}

int
__openat64_2(int dirfd, const char *path, int flags)
{
  return open_common(dirfd, path, flags, 0, 1);
}

FILE *
fopen(const char *path, const char *mode)
{
  char buf[PATH_MAX];

  if (!init_state)
    init();
  if (sim()) {
    if (SIM_PhcPathIndex(path) >= 0)
      SIM_Fatal("fopen(%s) of a PHC not modelled", path);
    path = SIM_PhcMapPath(path, buf, sizeof (buf));
  }
  return real_fopen(path, mode);
}

FILE *
fopen64(const char *path, const char *mode)
{
  return fopen(path, mode);
}

DIR *
opendir(const char *path)
{
  char buf[PATH_MAX];

  if (sim())
    path = SIM_PhcMapPath(path, buf, sizeof (buf));
  return real_opendir(path);
}

int
close(int fd)
{
  if (sim())
    SIM_PhcClose(fd);
  return SIM_real_close(fd);
}

/* stat() of a PHC path: a character device if present */
static int
stat_phc(const char *path, struct stat *st, int nofollow)
{
  char buf[PATH_MAX];
  int slot, fd;

  if (sim() && (slot = SIM_PhcPathIndex(path)) >= 0) {
    if (nofollow && !strcmp(path, "/dev/ptp_kvm") && slot < SIM_MAX_PHCS) {
      memset(st, 0, sizeof (*st));
      st->st_mode = S_IFLNK | 0777;
      return 0;
    }
    if (SIM_PhcOpen(path, &fd) && fd >= 0) {
      close(fd);
      SIM_PhcFakeStat(slot, st, 0);
      return 0;
    }
    errno = ENOENT;
    return -1;
  }
  if (sim())
    path = SIM_PhcMapPath(path, buf, sizeof (buf));
  return nofollow ? real_lstat(path, st) : real_stat(path, st);
}

int
stat(const char *path, struct stat *st)
{
  return stat_phc(path, st, 0);
}

int
stat64(const char *path, struct stat64 *st)
{
  return stat_phc(path, (struct stat *)st, 0);
}

int
lstat(const char *path, struct stat *st)
{
  return stat_phc(path, st, 1);
}

int
lstat64(const char *path, struct stat64 *st)
{
  return stat_phc(path, (struct stat *)st, 1);
}

int
fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
  char buf[PATH_MAX];

  if (sim() && path && path[0] == '/') {
    if (SIM_PhcPathIndex(path) >= 0)
      return stat_phc(path, st, flags & AT_SYMLINK_NOFOLLOW);
    path = SIM_PhcMapPath(path, buf, sizeof (buf));
  }
  return real_fstatat(dirfd, path, st, flags);
}

int
fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
  return fstatat(dirfd, path, (struct stat *)st, flags);
}

int
fstat(int fd, struct stat *st)
{
  if (sim() && SIM_PhcIsFake(fd)) {
    SIM_PhcFakeStat(SIM_PhcFdSlot(fd), st, 0);
    return 0;
  }
  return real_fstat(fd, st);
}

int
fstat64(int fd, struct stat64 *st)
{
  return fstat(fd, (struct stat *)st);
}

int
__fxstat(int ver, int fd, struct stat *st)
{
  (void)ver;
  return fstat(fd, st);
}

int
__fxstat64(int ver, int fd, struct stat64 *st)
{
  (void)ver;
  return fstat(fd, (struct stat *)st);
}

int
access(const char *path, int mode)
{
  char buf[PATH_MAX];
  struct stat st;

  if (sim()) {
    if (SIM_PhcPathIndex(path) >= 0)
      return stat_phc(path, &st, 0);
    path = SIM_PhcMapPath(path, buf, sizeof (buf));
  }
  return real_access(path, mode);
}

ssize_t
readlink(const char *path, char *out, size_t len)
{
  char buf[PATH_MAX], target[32];
  struct stat st;
  int slot;

  if (sim()) {
    if (path && !strcmp(path, "/dev/ptp_kvm")) {
      slot = SIM_PhcPathIndex(path);
      if (slot >= SIM_MAX_PHCS || stat_phc(path, &st, 0) < 0) {
        errno = ENOENT;
        return -1;
      }
      snprintf(target, sizeof (target), "ptp%d", SIM_sc.phcs[slot].index);
      strncpy(out, target, len);
      return strlen(target) < len ? strlen(target) : len;
    }
    path = SIM_PhcMapPath(path, buf, sizeof (buf));
  }
  return real_readlink(path, out, len);
}

ssize_t
__readlink_chk(const char *path, char *out, size_t len, size_t outlen)
{
  (void)outlen;
  return readlink(path, out, len);
}

char *
realpath(const char *path, char *resolved)
{
  char target[32];
  struct stat st;
  int slot;

  if (sim() && path && (slot = SIM_PhcPathIndex(path)) >= 0) {
    if (stat_phc(path, &st, 0) < 0)
      return NULL;
    snprintf(target, sizeof (target), "/dev/ptp%d", SIM_sc.phcs[slot].index);
    if (!resolved)
      return strdup(target);
    strcpy(resolved, target);
    return resolved;
  }
  /* sysfs paths are resolved inside the fixture but reported as sysfs */
  return real_realpath(path, resolved);
}

char *
__realpath_chk(const char *path, char *resolved, size_t len)
{
  (void)len;
  return realpath(path, resolved);
}

ssize_t
read(int fd, void *buf, size_t n)
{
  if (sim() && SIM_PhcIsFake(fd))
    SIM_Fatal("read() of PHC events on fd %d not modelled", fd);
  return real_read(fd, buf, n);
}

ssize_t
__read_chk(int fd, void *buf, size_t n, size_t buflen)
{
  (void)buflen;
  return read(fd, buf, n);
}

int
ioctl(int fd, unsigned long req, ...)
{
  va_list ap;
  void *arg;

  va_start(ap, req);
  arg = va_arg(ap, void *);
  va_end(ap);
  if (sim() && SIM_PhcIsFake(fd))
    return SIM_PhcIoctl(fd, req, arg);
  return real_ioctl(fd, req, arg);
}

/* ================================================== */
/* Randomness: deterministic from the seed, so that a whole run of chronyd
   (which randomises e.g. timestamp low bits) is bit-identical */

ssize_t
getrandom(void *buf, size_t len, unsigned int flags)
{
  if (!sim())
    return ((ssize_t (*)(void *, size_t, unsigned int))must_sym("getrandom"))(buf, len, flags);
  SIM_RandBytes(SIM_RNG_PROCESS, buf, len);
  return len;
}

int
getentropy(void *buf, size_t len)
{
  if (len > 256) {
    errno = EIO;
    return -1;
  }
  return getrandom(buf, len, 0) < 0 ? -1 : 0;
}

/* ================================================== */
/* libseccomp: the filter is recorded and emulated, never loaded */

void *
seccomp_init(unsigned int def_action)
{
  if (!real_seccomp_init)
    real_seccomp_init = must_sym("seccomp_init");
  if (sim())
    SIM_SeccompInitAction(def_action);
  return real_seccomp_init(def_action);
}

/* Record the ioctl numbers chronyd allows (SCMP_A1(SCMP_CMP_EQ, nr)) and
   pass the rule on to libseccomp unchanged */
int
seccomp_rule_add(void *ctx, uint32_t action, int syscall_nr, unsigned int arg_cnt, ...)
{
  static int (*add_array)(void *, uint32_t, int, unsigned int, const struct sim_scmp_arg_cmp *);
  struct sim_scmp_arg_cmp args[6];
  unsigned int i;
  va_list ap;

  if (arg_cnt > 6) {
    errno = EINVAL;
    return -EINVAL;
  }
  va_start(ap, arg_cnt);
  for (i = 0; i < arg_cnt; i++)
    args[i] = va_arg(ap, struct sim_scmp_arg_cmp);
  va_end(ap);

  if (sim() && syscall_nr == SYS_ioctl)
    SIM_SeccompIoctlRule(action, arg_cnt == 1 && args[0].arg == 1 &&
                         args[0].op == SIM_SCMP_CMP_EQ ? (long long)args[0].datum_a :
                         (arg_cnt == 0 ? -1LL : -2LL));
  if (!add_array)
    add_array = must_sym("seccomp_rule_add_array");
  return add_array(ctx, action, syscall_nr, arg_cnt, args);
}

int
seccomp_load(void *ctx)
{
  (void)ctx;
  if (!sim())
    SIM_Fatal("seccomp_load outside the simulation");
  SIM_SeccompLoaded(SIM_SeccompInitActionValue());
  return 0;
}
