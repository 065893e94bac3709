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
  devices behind a PHCR_Ops table, a real fixture sysfs tree in a
  temporary directory, a seeded noise model and garbage injection.
  */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
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
  int is_phc, cross, open_errno, removed;
  int mode_errno[PHCR_MODE_COUNT];
  QueueEntry errq[MAX_QUEUE];
  int n_errq;
  QueueEntry garbq[MAX_QUEUE];
  int n_garbq;
  int64_t offset_ns;
  int64_t t0;
  FAKE_Noise noise;
} Device;

struct FAKE_Phc_Record {
  PHCR_Ops ops;
  char root[PHCR_ROOT_MAX];
  FAKE_Rng rng;
  int64_t sys_ns;
  Device dev[FAKE_MAX_DEVICES];
  int fd_dev[MAX_FDS];        /* device of fd FD_BASE + i, -1 if free */
  FAKE_Counters c;
  unsigned long log[FAKE_LOG_MAX];
  int log_n, log_pos;
};

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
FAKE_NoiseDefaults(FAKE_Noise *n)
{
  n->base_delay_ns = 1500.0;
  n->jitter_ns = 200.0;
  n->asymmetry = 0.5;
  n->spike_prob = 0.0;
  n->spike_min_ns = 50000.0;
  n->spike_max_ns = 500000.0;
  n->spike_asymmetry = -1.0;
  n->precise_noise_ns = 20.0;
  n->freq_ppm = 0.0;
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
/* ops */

static int
op_open(void *ctx, const char *path, int flags)
{
  FAKE_Phc *f = ctx;
  int d, i;

  (void)flags;
  f->c.opens++;
  d = find_dev_by_path(f, path);
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

static int
op_close(void *ctx, int fd)
{
  FAKE_Phc *f = ctx;

  f->c.closes++;
  if (fd_to_dev(f, fd) < 0) {
    errno = EBADF;
    return -1;
  }
  f->fd_dev[fd - FD_BASE] = -1;
  f->c.open_fds--;
  return 0;
}

static int
op_fstat(void *ctx, int fd, struct stat *st)
{
  FAKE_Phc *f = ctx;
  int d = fd_to_dev(f, fd);

  f->c.fstats++;
  if (d < 0) {
    errno = EBADF;
    return -1;
  }
  memset(st, 0, sizeof (*st));
  st->st_mode = S_IFCHR | 0600;
  st->st_rdev = makedev(PTP_MAJOR, f->dev[d].minor);
  return 0;
}

static ssize_t
op_read_file(void *ctx, const char *path, char *buf, size_t len)
{
  FAKE_Phc *f = ctx;

  f->c.read_files++;
  return PHCR_DefaultOps.read_file(NULL, path, buf, len);
}

static int
op_list_dir(void *ctx, const char *path, PHCR_ListDirCallback cb, void *arg)
{
  FAKE_Phc *f = ctx;

  f->c.list_dirs++;
  return PHCR_DefaultOps.list_dir(NULL, path, cb, arg);
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

static void
set_pt(struct ptp_clock_time *pt, int64_t ns)
{
  int64_t s = ns / 1000000000LL, r = ns % 1000000000LL;

  if (r < 0) {
    r += 1000000000LL;
    s--;
  }
  pt->sec = s;
  pt->nsec = (uint32_t)r;
  pt->reserved = 0;
}

/* ================================================== */

static int64_t
phc_at(Device *d, int64_t sys)
{
  return sys + d->offset_ns +
         (int64_t)llround(d->noise.freq_ppm * 1e-6 * (double)(sys - d->t0));
}

/* ================================================== */
/* One measurement: returns before/phc/after and advances the clock */

static void
measure(FAKE_Phc *f, Device *d, int64_t *before, int64_t *phc, int64_t *after)
{
  const FAKE_Noise *n = &d->noise;
  double delay, asym;

  delay = n->base_delay_ns + FAKE_RngUniform(&f->rng) * n->jitter_ns;
  asym = n->asymmetry;
  if (n->spike_prob > 0.0 && FAKE_RngUniform(&f->rng) < n->spike_prob) {
    delay += n->spike_min_ns +
             FAKE_RngUniform(&f->rng) * (n->spike_max_ns - n->spike_min_ns);
    asym = n->spike_asymmetry;
  }
  if (asym < 0.0 || asym > 1.0)
    asym = FAKE_RngUniform(&f->rng);

  *before = f->sys_ns;
  *phc = phc_at(d, *before + (int64_t)llround(asym * delay));
  *after = *before + (int64_t)llround(delay);
  f->sys_ns = *after;
  f->c.device_samples++;
}

/* ================================================== */

static void
gen_basic(FAKE_Phc *f, Device *d, struct ptp_sys_offset *p, int garbage)
{
  int64_t b, ph, a;
  unsigned int i, n = p->n_samples;

  for (i = 0; i < n; i++) {
    measure(f, d, &b, &ph, &a);
    if (i == 0)
      set_pt(&p->ts[0], b);
    set_pt(&p->ts[2 * i + 1], ph);
    set_pt(&p->ts[2 * i + 2], a);
  }

  switch (garbage) {
    case FAKE_GARBAGE_NSEC:
      p->ts[1].nsec = 1000000000U;
      break;
    case FAKE_GARBAGE_NEG_NSEC:
      p->ts[1].nsec = 0xffffffffU;
      break;
    case FAKE_GARBAGE_ORDER:
      p->ts[2].sec -= 1;
      break;
    case FAKE_GARBAGE_NONMONO:
      for (i = 1; i < n; i++)
        p->ts[2 * i + 1].sec -= 1;
      break;
    case FAKE_GARBAGE_DELAY:
      p->ts[0].sec -= 2;
      break;
    case FAKE_GARBAGE_ALL_NSEC:
      for (i = 0; i < n; i++)
        p->ts[2 * i + 1].nsec = 1000000001U;
      break;
    case FAKE_GARBAGE_ZERO:
      memset(p->ts, 0, sizeof (p->ts));
      break;
  }
}

/* ================================================== */

static void
gen_extended(FAKE_Phc *f, Device *d, struct ptp_sys_offset_extended *p,
             int garbage)
{
  int64_t b, ph, a;
  unsigned int i, n = p->n_samples;

  for (i = 0; i < n; i++) {
    measure(f, d, &b, &ph, &a);
    set_pt(&p->ts[i][0], b);
    set_pt(&p->ts[i][1], ph);
    set_pt(&p->ts[i][2], a);
    f->sys_ns += 100;
  }

  switch (garbage) {
    case FAKE_GARBAGE_NSEC:
      p->ts[0][1].nsec = 1000000000U;
      break;
    case FAKE_GARBAGE_NEG_NSEC:
      p->ts[0][1].nsec = 0xffffffffU;
      break;
    case FAKE_GARBAGE_ORDER:
      p->ts[0][2].sec -= 1;
      break;
    case FAKE_GARBAGE_NONMONO:
      for (i = 1; i < n; i++) {
        p->ts[i][0].sec -= 1;
        p->ts[i][1].sec -= 1;
        p->ts[i][2].sec -= 1;
      }
      break;
    case FAKE_GARBAGE_DELAY:
      p->ts[0][0].sec -= 2;
      break;
    case FAKE_GARBAGE_ALL_NSEC:
      for (i = 0; i < n; i++)
        p->ts[i][1].nsec = 1000000001U;
      break;
    case FAKE_GARBAGE_ZERO:
      memset(p->ts, 0, sizeof (p->ts));
      break;
  }
}

/* ================================================== */

static void
gen_precise(FAKE_Phc *f, Device *d, struct ptp_sys_offset_precise *p,
            int garbage)
{
  double noise = (2.0 * FAKE_RngUniform(&f->rng) - 1.0) * d->noise.precise_noise_ns;
  int64_t sys = f->sys_ns;

  set_pt(&p->sys_realtime, sys);
  set_pt(&p->device, phc_at(d, sys) + (int64_t)llround(noise));
  set_pt(&p->sys_monoraw, sys - 1000000000000LL);
  f->sys_ns += 500;
  f->c.device_samples++;

  switch (garbage) {
    case FAKE_GARBAGE_NONE:
      break;
    case FAKE_GARBAGE_NEG_NSEC:
      p->device.nsec = 0xffffffffU;
      break;
    case FAKE_GARBAGE_ZERO:
      memset(p, 0, sizeof (*p));
      break;
    case FAKE_GARBAGE_ORDER:
    case FAKE_GARBAGE_DELAY:
      p->sys_realtime.sec = -1;
      break;
    default:
      p->device.nsec = 1000000000U;
      break;
  }
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
op_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
  FAKE_Phc *f = ctx;
  int di = fd_to_dev(f, fd), err, garbage;
  struct ptp_clock_caps *caps;
  PHCR_Mode mode;
  Device *d;

  f->log[f->log_pos] = req;
  f->log_pos = (f->log_pos + 1) % FAKE_LOG_MAX;
  if (f->log_n < FAKE_LOG_MAX)
    f->log_n++;

  if (di < 0) {
    errno = EBADF;
    return -1;
  }
  d = &f->dev[di];
  mode = request_mode(req);

  if (req == PTP_CLOCK_GETCAPS)
    f->c.getcaps++;
  else if (mode == PHCR_MODE_NONE)
    f->c.other_ioctls++;
  else
    f->c.ioctl_mode[mode]++;

  if (d->removed) {
    errno = ENODEV;
    return -1;
  }

  if (req == PTP_CLOCK_GETCAPS) {
    if (!d->is_phc) {
      errno = ENOTTY;
      return -1;
    }
    caps = arg;
    memset(caps, 0, sizeof (*caps));
    caps->max_adj = 100000000;
    caps->cross_timestamping = d->cross;
    return 0;
  }

  if (mode == PHCR_MODE_NONE || !d->is_phc) {
    errno = ENOTTY;
    return -1;
  }

  err = take_queue(d->errq, &d->n_errq, mode);
  if (!err)
    err = d->mode_errno[mode];
  if (err) {
    errno = err;
    return -1;
  }

  garbage = take_queue(d->garbq, &d->n_garbq, mode);
  switch (mode) {
    case PHCR_MODE_BASIC:
      if (((struct ptp_sys_offset *)arg)->n_samples > PTP_MAX_SAMPLES)
        goto inval;
      gen_basic(f, d, arg, garbage);
      break;
    case PHCR_MODE_EXTENDED:
      if (((struct ptp_sys_offset_extended *)arg)->n_samples > PTP_MAX_SAMPLES ||
          ((struct ptp_sys_offset_extended *)arg)->n_samples == 0)
        goto inval;
      gen_extended(f, d, arg, garbage);
      break;
    default:
      gen_precise(f, d, arg, garbage);
      break;
  }
  return 0;

inval:
  errno = EINVAL;
  return -1;
}

/* ================================================== */
/* Fixture tree */

static int
mkdir_p(const char *path)
{
  char buf[PHCR_ROOT_MAX + PHCR_PATH_MAX];
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
  char path[PHCR_ROOT_MAX + PHCR_PATH_MAX];

  snprintf(path, sizeof (path), "%s/%s", f->root,
           rel_path[0] == '/' ? rel_path + 1 : rel_path);
  return mkdir_p(path);
}

/* ================================================== */

int
FAKE_WriteFile(FAKE_Phc *f, const char *rel_path, const char *content)
{
  char path[PHCR_ROOT_MAX + PHCR_PATH_MAX], *slash;
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

  f->ops.open = op_open;
  f->ops.close = op_close;
  f->ops.ioctl = op_ioctl;
  f->ops.read_file = op_read_file;
  f->ops.list_dir = op_list_dir;
  f->ops.fstat = op_fstat;
  f->ops.ctx = f;

  FAKE_RngSeed(&f->rng, seed);
  f->sys_ns = 1700000000LL * 1000000000LL;
  for (i = 0; i < MAX_FDS; i++)
    f->fd_dev[i] = -1;
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
  nftw(f->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(f);
}

/* ================================================== */

const PHCR_Ops *
FAKE_Ops(FAKE_Phc *f)
{
  return &f->ops;
}

const char *
FAKE_Root(FAKE_Phc *f)
{
  return f->root;
}

void
FAKE_Env(FAKE_Phc *f, PHCR_Env *env)
{
  env->ops = &f->ops;
  env->root = f->root;
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
  d->cross = 1;
  d->t0 = f->sys_ns;
  FAKE_NoiseDefaults(&d->noise);
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
    d->cross = cap;
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
FAKE_QueueGarbage(FAKE_Phc *f, int dev, PHCR_Mode mode, FAKE_Garbage kind,
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
FAKE_SetNoise(FAKE_Phc *f, int dev, const FAKE_Noise *noise)
{
  Device *d = get_dev(f, dev);

  if (d)
    d->noise = *noise;
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

void
FAKE_SetSysTime(FAKE_Phc *f, int64_t ns)
{
  f->sys_ns = ns;
}

int64_t
FAKE_GetSysTime(FAKE_Phc *f)
{
  return f->sys_ns;
}

void
FAKE_AdvanceSysTime(FAKE_Phc *f, int64_t ns)
{
  f->sys_ns += ns;
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
