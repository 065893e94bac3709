/*
  chrony-ptpkvm: phc_reader tests
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

  Implementation of the fake PHC backend (see fake_phc.h): scripted
  devices behind the wrapped open/close/ioctl/fstat/opendir, answered by
  the shared device model on a virtual system clock and a seeded random
  stream, and a real fixture sysfs tree in a temporary directory.
  */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/ptp_clock.h>

#include "fake_phc.h"

#define MAX_PATHS 4
#define MAX_QUEUE 64
#define MAX_FDS 64
#define FD_BASE 1000
#define PTP_MAJOR 246
#define ROOT_MAX 64
#define PATH_MAX_ (ROOT_MAX + PHCR_PATH_MAX)

typedef struct {
  PHCR_Mode mode;
  int err;            /* errno, or garbage kind */
  int count;
} QueueEntry;

typedef struct {
  int used;
  char paths[MAX_PATHS][PHCR_PATH_MAX];
  int n_paths;
  int minor;
  int is_phc, open_errno, removed;
  int mode_errno[PHCR_MODE_COUNT];
  QueueEntry errq[MAX_QUEUE];
  int n_errq;
  QueueEntry garbq[MAX_QUEUE];
  int n_garbq;
  int64_t offset_ns;
  PKM_Device model;
} Device;

struct FAKE_Phc_Record {
  PKM_Env env;
  char root[ROOT_MAX];
  FAKE_Rng rng;
  int64_t sys_ns;
  Device dev[FAKE_MAX_DEVICES];
  int fd_dev[MAX_FDS];        /* device of fd FD_BASE + i, -1 if free */
  FAKE_Counters c;
  unsigned long log[FAKE_LOG_MAX];
  int log_n, log_pos;
};

/* The fake that answers the wrapped calls */
static FAKE_Phc *current;

/* ================================================== */
/* PRNG: splitmix64 */

void
FAKE_RngSeed(FAKE_Rng *r, uint64_t seed)
{
  r->s = seed;
}

uint64_t
FAKE_RngNext(FAKE_Rng *r)
{
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double
FAKE_RngUniform(FAKE_Rng *r)
{
  return (double)(FAKE_RngNext(r) >> 11) * (1.0 / 9007199254740992.0);
}

double
FAKE_RngNormal(FAKE_Rng *r)
{
  double u1 = FAKE_RngUniform(r), u2 = FAKE_RngUniform(r);

  if (u1 < 1e-300)
    u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* ================================================== */

void
FAKE_NoiseDefaults(PKM_Noise *n)
{
  memset(n, 0, sizeof (*n));
  n->out_ns = 750.0;
  n->back_ns = 750.0;
  n->jitter_ns = 50.0;
  n->spike_min_ns = 50000.0;
  n->spike_max_ns = 500000.0;
  n->precise_noise_ns = 20.0;
}

/* ================================================== */

static Device *
get_dev(FAKE_Phc *f, int dev)
{
  if (dev < 0 || dev >= FAKE_MAX_DEVICES || !f->dev[dev].used)
    return NULL;
  return &f->dev[dev];
}

/* ================================================== */

static const char *
strip_root(FAKE_Phc *f, const char *path)
{
  size_t n = strlen(f->root);

  if (strncmp(path, f->root, n) == 0 && path[n] == '/')
    return path + n;
  return path;
}

/* ================================================== */

static int
find_dev_by_path(FAKE_Phc *f, const char *path)
{
  const char *rel = strip_root(f, path);
  int i, j;

  for (i = 0; i < FAKE_MAX_DEVICES; i++) {
    /* a removed device's path may be taken by a new one */
    if (!f->dev[i].used || f->dev[i].removed)
      continue;
    for (j = 0; j < f->dev[i].n_paths; j++)
      if (strcmp(f->dev[i].paths[j], rel) == 0)
        return i;
  }
  return -1;
}

/* ================================================== */

static int
fd_to_dev(FAKE_Phc *f, int fd)
{
  if (fd < FD_BASE || fd >= FD_BASE + MAX_FDS)
    return -1;
  return f->fd_dev[fd - FD_BASE];
}

/* ================================================== */
/* The device model's view of the fake: one virtual system clock, the PHC
   at a true offset from it, one random stream */

static int64_t
env_realtime(void *ctx)
{
  return ((FAKE_Phc *)ctx)->sys_ns;
}

static void
env_crosststamp(void *ctx, int64_t *rt, int64_t *raw)
{
  FAKE_Phc *f = ctx;

  *rt = f->sys_ns;
  *raw = f->sys_ns - 1000000000000LL;
}

static int64_t
env_phc(void *ctx, int id)
{
  FAKE_Phc *f = ctx;

  return f->sys_ns + f->dev[id].offset_ns;
}

static void
env_advance(void *ctx, double ns)
{
  ((FAKE_Phc *)ctx)->sys_ns += llround(ns);
}

static double
env_uniform(void *ctx, int stream)
{
  (void)stream;
  return FAKE_RngUniform(&((FAKE_Phc *)ctx)->rng);
}

static double
env_gauss(void *ctx, int stream)
{
  (void)stream;
  return FAKE_RngNormal(&((FAKE_Phc *)ctx)->rng);
}

static double
env_chance(void *ctx, int id, PKM_Condition cond)
{
  return cond == PKM_COND_GONE && ((FAKE_Phc *)ctx)->dev[id].removed;
}

static void
env_access(void *ctx, int id)
{
  (void)id;
  ((FAKE_Phc *)ctx)->c.device_samples++;
}

static const PKM_Env env_template = {
  NULL, env_realtime, env_crosststamp, env_phc, env_advance, env_uniform, env_gauss,
  env_chance, env_access, NULL, NULL
};

/* ================================================== */
/* The wrapped calls */

extern int __real_open(const char *path, int flags, ...);
extern int __real_close(int fd);
extern int __real_ioctl(int fd, unsigned long req, ...);
extern int __real_fstat(int fd, struct stat *st);
extern DIR *__real_opendir(const char *path);

int __wrap_open(const char *path, int flags, ...);
int __wrap_close(int fd);
int __wrap_ioctl(int fd, unsigned long req, ...);
int __wrap_fstat(int fd, struct stat *st);
DIR *__wrap_opendir(const char *path);

/* A /sys path below the fixture root, else path itself */

static const char *
fixture_path(const char *path, char *buf, size_t len)
{
  if (!current || strncmp(path, "/sys/", 5))
    return path;
  snprintf(buf, len, "%s%s", current->root, path);
  return buf;
}

/* /dev: the scripted devices only */

static int
fake_open(FAKE_Phc *f, int d)
{
  int i;

  f->c.opens++;
  if (d < 0) {
    errno = ENOENT;
    return -1;
  }
  if (f->dev[d].open_errno) {
    errno = f->dev[d].open_errno;
    return -1;
  }
  for (i = 0; i < MAX_FDS; i++) {
    if (f->fd_dev[i] < 0) {
      f->fd_dev[i] = d;
      f->c.open_fds++;
      return FD_BASE + i;
    }
  }
  errno = EMFILE;
  return -1;
}

int
__wrap_open(const char *path, int flags, ...)
{
  char buf[PATH_MAX_];
  mode_t mode = 0;
  va_list ap;
  int d;

  if (flags & O_CREAT) {
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  d = current ? find_dev_by_path(current, path) : -1;
  if (d >= 0 || (current && !strncmp(path, "/dev/", 5)))
    return fake_open(current, d);
  return __real_open(fixture_path(path, buf, sizeof (buf)), flags, mode);
}

int
__wrap_close(int fd)
{
  if (!current || fd_to_dev(current, fd) < 0)
    return __real_close(fd);
  current->c.closes++;
  current->fd_dev[fd - FD_BASE] = -1;
  current->c.open_fds--;
  return 0;
}

int
__wrap_fstat(int fd, struct stat *st)
{
  int d = current ? fd_to_dev(current, fd) : -1;

  if (d < 0)
    return __real_fstat(fd, st);
  memset(st, 0, sizeof (*st));
  st->st_mode = S_IFCHR | 0600;
  st->st_rdev = makedev(PTP_MAJOR, current->dev[d].minor);
  return 0;
}

DIR *
__wrap_opendir(const char *path)
{
  char buf[PATH_MAX_];

  return __real_opendir(fixture_path(path, buf, sizeof (buf)));
}

/* ================================================== */
/* Queues: the first entry of the mode is consumed */

static int
take_queue(QueueEntry *q, int *n, PHCR_Mode mode)
{
  int i, v;

  for (i = 0; i < *n; i++) {
    if (q[i].mode != mode)
      continue;
    v = q[i].err;
    if (--q[i].count <= 0) {
      memmove(&q[i], &q[i + 1], sizeof (*q) * (size_t)(*n - i - 1));
      (*n)--;
    }
    return v;
  }
  return 0;
}

/* ================================================== */

static PHCR_Mode
request_mode(unsigned long req)
{
  if (req == PTP_SYS_OFFSET)
    return PHCR_MODE_BASIC;
  if (req == PTP_SYS_OFFSET_EXTENDED)
    return PHCR_MODE_EXTENDED;
  if (req == PTP_SYS_OFFSET_PRECISE)
    return PHCR_MODE_PRECISE;
  return PHCR_MODE_NONE;
}

/* ================================================== */

static int
fake_ioctl(FAKE_Phc *f, int di, unsigned long req, void *arg)
{
  int err = 0, garbage = PKM_GARBAGE_NONE, r;
  PHCR_Mode mode;
  Device *d;

  f->log[f->log_pos] = req;
  f->log_pos = (f->log_pos + 1) % FAKE_LOG_MAX;
  if (f->log_n < FAKE_LOG_MAX)
    f->log_n++;

  d = &f->dev[di];
  mode = request_mode(req);

  if (req == PTP_CLOCK_GETCAPS)
    f->c.getcaps++;
  else if (mode == PHCR_MODE_NONE)
    f->c.other_ioctls++;
  else
    f->c.ioctl_mode[mode]++;

  if (!d->is_phc) {
    errno = d->removed ? ENODEV : ENOTTY;
    return -1;
  }
  if (mode != PHCR_MODE_NONE) {
    err = take_queue(d->errq, &d->n_errq, mode);
    if (!err)
      err = d->mode_errno[mode];
    if (!err)
      garbage = take_queue(d->garbq, &d->n_garbq, mode);
  }
  r = PKM_Ioctl(&f->env, &d->model, req, arg, err, garbage);
  if (r < 0) {
    errno = -r;
    return -1;
  }
  return 0;
}

int
__wrap_ioctl(int fd, unsigned long req, ...)
{
  int d = current ? fd_to_dev(current, fd) : -1;
  void *arg;
  va_list ap;

  va_start(ap, req);
  arg = va_arg(ap, void *);
  va_end(ap);
  if (d < 0)
    return __real_ioctl(fd, req, arg);
  return fake_ioctl(current, d, req, arg);
}

/* ================================================== */
/* Fixture tree */

static int
mkdir_p(const char *path)
{
  char buf[PATH_MAX_];
  size_t i;

  snprintf(buf, sizeof (buf), "%s", path);
  for (i = 1; buf[i]; i++) {
    if (buf[i] != '/')
      continue;
    buf[i] = '\0';
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
      return -1;
    buf[i] = '/';
  }
  if (mkdir(buf, 0755) < 0 && errno != EEXIST)
    return -1;
  return 0;
}

/* ================================================== */

int
FAKE_MkDir(FAKE_Phc *f, const char *rel_path)
{
  char path[PATH_MAX_];

  snprintf(path, sizeof (path), "%s/%s", f->root,
           rel_path[0] == '/' ? rel_path + 1 : rel_path);
  return mkdir_p(path);
}

/* ================================================== */

int
FAKE_WriteFile(FAKE_Phc *f, const char *rel_path, const char *content)
{
  char path[PATH_MAX_], *slash;
  size_t len = strlen(content);
  int fd, ok;

  snprintf(path, sizeof (path), "%s/%s", f->root,
           rel_path[0] == '/' ? rel_path + 1 : rel_path);
  slash = strrchr(path, '/');
  *slash = '\0';
  if (mkdir_p(path) < 0)
    return -1;
  *slash = '/';

  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return -1;
  ok = write(fd, content, len) == (ssize_t)len;
  close(fd);
  return ok ? 0 : -1;
}

/* ================================================== */

int
FAKE_AddSysfsPtp(FAKE_Phc *f, int index, const char *clock_name)
{
  char rel[128], content[128];

  snprintf(rel, sizeof (rel), "/sys/class/ptp/ptp%d/dev", index);
  snprintf(content, sizeof (content), "%d:%d\n", PTP_MAJOR, index);
  if (FAKE_WriteFile(f, rel, content) < 0)
    return -1;
  if (!clock_name)
    return 0;
  snprintf(rel, sizeof (rel), "/sys/class/ptp/ptp%d/clock_name", index);
  snprintf(content, sizeof (content), "%s\n", clock_name);
  return FAKE_WriteFile(f, rel, content);
}

/* ================================================== */

FAKE_Phc *
FAKE_Create(uint64_t seed)
{
  FAKE_Phc *f = calloc(1, sizeof (*f));
  int i;

  if (!f)
    return NULL;

  snprintf(f->root, sizeof (f->root), "/tmp/fake_phc.XXXXXX");
  if (!mkdtemp(f->root)) {
    free(f);
    return NULL;
  }

  f->env = env_template;
  f->env.ctx = f;

  FAKE_RngSeed(&f->rng, seed);
  f->sys_ns = 1700000000LL * 1000000000LL;
  for (i = 0; i < MAX_FDS; i++)
    f->fd_dev[i] = -1;
  current = f;
  return f;
}

/* ================================================== */

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* ================================================== */

void
FAKE_Destroy(FAKE_Phc *f)
{
  if (!f)
    return;
  if (current == f)
    current = NULL;
  nftw(f->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(f);
}

/* ================================================== */

const char *
FAKE_Root(FAKE_Phc *f)
{
  return f->root;
}

/* ================================================== */

int
FAKE_AddDevice(FAKE_Phc *f, const char *path)
{
  Device *d;
  int i, n;

  for (i = 0; i < FAKE_MAX_DEVICES && f->dev[i].used; i++)
    ;
  if (i == FAKE_MAX_DEVICES || strlen(path) >= PHCR_PATH_MAX)
    return -1;

  d = &f->dev[i];
  memset(d, 0, sizeof (*d));
  d->used = 1;
  snprintf(d->paths[0], PHCR_PATH_MAX, "%s", path);
  d->n_paths = 1;
  d->minor = sscanf(path, "/dev/ptp%d", &n) == 1 ? n : 100 + i;
  d->is_phc = 1;
  d->model.kind = PKM_NIC;
  d->model.cross = 1;
  d->model.id = i;
  FAKE_NoiseDefaults(&d->model.noise);
  return i;
}

/* ================================================== */

int
FAKE_AddAlias(FAKE_Phc *f, const char *path, int dev)
{
  Device *d = get_dev(f, dev);

  if (!d || d->n_paths >= MAX_PATHS || strlen(path) >= PHCR_PATH_MAX)
    return -1;
  snprintf(d->paths[d->n_paths++], PHCR_PATH_MAX, "%s", path);
  return 0;
}

/* ================================================== */

void
FAKE_SetPhc(FAKE_Phc *f, int dev, int is_phc)
{
  Device *d = get_dev(f, dev);

  if (d)
    d->is_phc = is_phc;
}

void
FAKE_SetCrossTimestamping(FAKE_Phc *f, int dev, int cap)
{
  Device *d = get_dev(f, dev);

  if (d)
    d->model.cross = cap;
}

void
FAKE_SetOpenErrno(FAKE_Phc *f, int dev, int err)
{
  Device *d = get_dev(f, dev);

  if (d)
    d->open_errno = err;
}

void
FAKE_SetModeErrno(FAKE_Phc *f, int dev, PHCR_Mode mode, int err)
{
  Device *d = get_dev(f, dev);

  if (d && mode > PHCR_MODE_NONE && mode < PHCR_MODE_COUNT)
    d->mode_errno[mode] = err;
}

/* ================================================== */

static void
queue_add(QueueEntry *q, int *n, PHCR_Mode mode, int v, int count)
{
  if (*n >= MAX_QUEUE || count <= 0)
    return;
  q[*n].mode = mode;
  q[*n].err = v;
  q[*n].count = count;
  (*n)++;
}

void
FAKE_QueueErrno(FAKE_Phc *f, int dev, PHCR_Mode mode, int err, int count)
{
  Device *d = get_dev(f, dev);

  if (d)
    queue_add(d->errq, &d->n_errq, mode, err, count);
}

void
FAKE_QueueGarbage(FAKE_Phc *f, int dev, PHCR_Mode mode, PKM_Garbage kind,
                  int count)
{
  Device *d = get_dev(f, dev);

  if (d)
    queue_add(d->garbq, &d->n_garbq, mode, (int)kind, count);
}

void
FAKE_RemoveDevice(FAKE_Phc *f, int dev)
{
  Device *d = get_dev(f, dev);

  if (d)
    d->removed = 1;
}

/* ================================================== */

void
FAKE_SetNoise(FAKE_Phc *f, int dev, const PKM_Noise *noise)
{
  Device *d = get_dev(f, dev);

  if (d)
    d->model.noise = *noise;
}

void
FAKE_SetOffset(FAKE_Phc *f, int dev, int64_t offset_ns)
{
  Device *d = get_dev(f, dev);

  if (d)
    d->offset_ns = offset_ns;
}

int64_t
FAKE_GetOffset(FAKE_Phc *f, int dev)
{
  Device *d = get_dev(f, dev);

  return d ? d->offset_ns : 0;
}

/* ================================================== */

void
FAKE_GetCounters(FAKE_Phc *f, FAKE_Counters *c)
{
  *c = f->c;
}

int
FAKE_GetIoctlLog(FAKE_Phc *f, unsigned long *requests, int max)
{
  int i, n = f->log_n < max ? f->log_n : max;
  int start = (f->log_pos - n + FAKE_LOG_MAX) % FAKE_LOG_MAX;

  for (i = 0; i < n; i++)
    requests[i] = f->log[(start + i) % FAKE_LOG_MAX];
  return n;
}
