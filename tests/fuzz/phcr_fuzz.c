/*
  chrony-ptpkvm: phc_reader fuzzing
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

  libFuzzer target of phc_reader.  The input drives two paths: (1) raw
  readings (1..25 triplets of arbitrary timestamps, or PRECISE) through
  validation, the filter and the driver's jump detector (of
  refclock_ptpkvm_decide.c, included); (2) the reader itself on a device
  whose ioctls return input bytes or errnos (open, close, ioctl, fstat and
  opendir wrapped at link time, as for tests/unit/fake_phc.c).  Besides the
  sanitizers, it checks invariants: a filtered sample is self-consistent
  with a finite error bound, a result is OK exactly when it has a mode,
  and a jump is never confirmed without the configured number of
  consecutive agreeing suspects.
  */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/ptp_clock.h>

#include "phcr_internal.h"
#include "refclock_ptpkvm_decide.c"
#include "refclock_ptpkvm_opts.c"

typedef struct {
  const uint8_t *p;
  size_t n;
} Input;

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* ================================================== */

static int
take(Input *in, void *dst, size_t len)
{
  if (in->n < len) {
    memset(dst, 0, len);
    return 0;
  }
  memcpy(dst, in->p, len);
  in->p += len;
  in->n -= len;
  return 1;
}

static uint8_t
take_u8(Input *in)
{
  uint8_t v = 0;

  take(in, &v, 1);
  return v;
}

static int32_t
take_i32(Input *in)
{
  int32_t v = 0;

  take(in, &v, sizeof (v));
  return v;
}

/* ================================================== */
/* Jump detector with the confirmation invariant */

typedef struct {
  PKP_Options opts;
  PKD_State d;
  int confirmations;
  int run;          /* consecutive suspects */
  int cold_resets;  /* restart cold after a jump */
  double time;
} Detector;

static void
detector_init(Detector *det, uint8_t sel)
{
  default_options(&det->opts);
  det->opts.confirm = 1 + sel % 4;
  det->opts.jump = (sel & 0x10) ? 100e-6 : 1e-3;
  det->cold_resets = (sel & 0x20) != 0;
  PKD_Init(&det->d, &det->opts, 0.0);
  det->confirmations = det->opts.confirm;
  det->run = 0;
  det->time = 0.0;
}

static void
detector_feed(Detector *det, const PHCR_Sample *s, double dt)
{
  PKD_Point p;
  int64_t jump_ns;

  det->time += dt;
  p.time = det->time;
  p.offset_ns = s->offset_ns;
  p.error = s->error;
  switch (detect(&det->d, &p, &jump_ns)) {
    case PKS_ACTION_CONFIRM:
      det->run++;
      break;
    case PKS_ACTION_STEP:
      CHECK(det->run >= det->confirmations);
      CHECK(jump_ns != 0);
      det->run = 0;
      restart(&det->d, det->cold_resets);
      break;
    default:
      det->run = 0;
      break;
  }
}

/* ================================================== */

static void
check_sample(const PHCR_Sample *s, int n)
{
  int64_t phc = PHCR_TimespecToNs(&s->phc), sys = PHCR_TimespecToNs(&s->sys), d;

  CHECK(s->n_used >= 1 && s->n_used <= s->n_total && s->n_total <= n);
  CHECK(s->error > 0.0 && isfinite(s->error));
  CHECK(s->delay >= 0.0);
  if (!__builtin_sub_overflow(phc, sys, &d) && phc != INT64_MAX && phc != INT64_MIN)
    CHECK(d == s->offset_ns);
}

/* ================================================== */
/* Path 1: raw readings */

static void
set_ts(struct timespec *ts, int64_t base, int32_t delta, uint8_t raw, Input *in)
{
  int64_t sec;
  int32_t nsec;

  if (raw) {
    take(in, &sec, sizeof (sec));
    take(in, &nsec, sizeof (nsec));
    ts->tv_sec = (time_t)sec;
    ts->tv_nsec = nsec;
    return;
  }
  PHCR_NsToTimespec(base + delta, ts);
}

static void
fuzz_readings(Input *in, uint8_t sel)
{
  PHCR_FilterState fs;
  PHCR_Reading r;
  PHCR_Sample s;
  Detector det;
  int64_t base = 1700000000LL * 1000000000LL, phc_off = 0;
  uint8_t hdr;
  int i;

  detector_init(&det, sel);
  /* the noise the filter learns over this input's readings */
  memset(&fs, 0, sizeof (fs));

  while (in->n > 0) {
    hdr = take_u8(in);
    memset(&r, 0, sizeof (r));
    r.mode = (hdr & 3) ? (PHCR_Mode)(hdr & 3) : PHCR_MODE_BASIC;
    r.n = r.mode == PHCR_MODE_PRECISE ? 1 : 1 + (hdr >> 3) % PHCR_MAX_SAMPLES;
    if (hdr & 4)
      phc_off += (int64_t)take_i32(in) * ((hdr & 0x80) ? 1000000 : 1);
    for (i = 0; i < r.n; i++) {
      set_ts(&r.t[i].sys_before, base, take_i32(in) & 0xffff, hdr & 0x40 && i == 0, in);
      set_ts(&r.t[i].phc, base + phc_off, take_i32(in) & 0xfffff, 0, in);
      set_ts(&r.t[i].sys_after, base, take_i32(in) & 0x1ffff, 0, in);
      if (r.mode == PHCR_MODE_PRECISE)
        r.t[i].sys_after = r.t[i].sys_before;
      base += 3000;
    }
    base += 1000000 + (take_u8(in) << 20);

    if (PHCR_ValidateReading(&r) != PHCR_OK) {
      CHECK(r.n == 0);
      continue;
    }
    CHECK(PHCR_FilterReading(&r, &fs, &s) == PHCR_OK);
    check_sample(&s, r.n);
    detector_feed(&det, &s, (hdr & 0x20) ? 0.002 : 1.0);
  }
}

/* ================================================== */
/* Path 2: the reader on an input-driven device */

static const int errnos[] = {
  EOPNOTSUPP, ENODEV, EINTR, EAGAIN, EBUSY, ENXIO, EBADF, EINVAL, EACCES
};

/* The device's descriptor; no sysfs, so discovery takes /dev/ptp_kvm */
#define FUZZ_FD 1000
static Input *device_input;

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

int
__wrap_open(const char *path, int flags, ...)
{
  va_list ap;
  mode_t mode = 0;

  if (device_input && !strncmp(path, "/dev/", 5))
    return FUZZ_FD;
  va_start(ap, flags);
  if (flags & O_CREAT)
    mode = va_arg(ap, mode_t);
  va_end(ap);
  return __real_open(path, flags, mode);
}

int
__wrap_close(int fd)
{
  return fd == FUZZ_FD ? 0 : __real_close(fd);
}

int
__wrap_fstat(int fd, struct stat *st)
{
  if (fd != FUZZ_FD)
    return __real_fstat(fd, st);
  memset(st, 0, sizeof (*st));
  st->st_mode = S_IFCHR | 0600;
  return 0;
}

DIR *
__wrap_opendir(const char *path)
{
  if (device_input && !strncmp(path, "/sys/", 5)) {
    errno = ENOENT;
    return NULL;
  }
  return __real_opendir(path);
}

int
__wrap_ioctl(int fd, unsigned long req, ...)
{
  Input *in = device_input;
  va_list ap;
  void *arg;
  uint8_t b;

  va_start(ap, req);
  arg = va_arg(ap, void *);
  va_end(ap);
  if (fd != FUZZ_FD || !in)
    return __real_ioctl(fd, req, arg);
  if (req == PTP_CLOCK_GETCAPS) {
    struct ptp_clock_caps *caps = arg;
    memset(caps, 0, sizeof (*caps));
    caps->cross_timestamping = take_u8(in) & 1;
    return 0;
  }
  b = take_u8(in);
  if (b < 2 * sizeof (errnos) / sizeof (errnos[0])) {
    errno = errnos[b / 2];
    return -1;
  }
  if (req == PTP_SYS_OFFSET)
    take(in, (char *)arg + 16, sizeof (struct ptp_sys_offset) - 16);
  else if (req == PTP_SYS_OFFSET_EXTENDED)
    take(in, (char *)arg + 16, sizeof (struct ptp_sys_offset_extended) - 16);
  else if (req == PTP_SYS_OFFSET_PRECISE)
    take(in, arg, sizeof (struct ptp_sys_offset_precise));
  else
    abort();   /* no other request may be issued after open */
  return 0;
}

static void
fuzz_reader(Input *in, uint8_t sel)
{
  PHCR_Config cfg;
  PHCR_Reader r;
  PHCR_Result res;
  PHCR_Error err;
  Detector det;
  double now = 0.0;
  uint8_t op;

  PHCR_ConfigDefaults(&cfg);
  cfg.reprobe_interval = sel % 4;
  cfg.flags = (sel >> 2) & 3;
  device_input = in;
  if (PHCR_Open("auto", NULL, &cfg, &r, NULL) != PHCR_OK) {
    device_input = NULL;
    return;
  }
  detector_init(&det, sel);

  while (in->n > 0) {
    op = take_u8(in);
    now += (op & 0x80) ? 0.002 : 1.0;
    if (op & 0x40)
      err = PHCR_ReadOne(r, 0, now, &res);
    else
      err = PHCR_Read(r, op & 0x1f, now, &res);
    CHECK(err == res.error);
    CHECK((err == PHCR_OK) == (res.mode != PHCR_MODE_NONE));
    if (err == PHCR_OK) {
      check_sample(&res.sample, PHCR_MAX_SAMPLES);
      detector_feed(&det, &res.sample, (op & 0x80) ? 0.002 : 1.0);
    } else if (err == PHCR_ERR_GONE && (op & 0x20)) {
      PHCR_Reopen(r, NULL);
    }
  }
  PHCR_Close(r);
  device_input = NULL;
}

/* ================================================== */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  Input in = { data, size };
  uint8_t sel;

  if (size < 1)
    return 0;
  sel = take_u8(&in);
  if (sel & 0x80)
    fuzz_reader(&in, sel);
  else
    fuzz_readings(&in, sel);
  return 0;
}
