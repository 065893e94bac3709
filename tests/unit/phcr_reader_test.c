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

  cmocka tests of the phc_reader reader on the fake device: mode selection
  and fallback within one read, re-probe by time, exclusion
  flags and capabilities, every errno class (EOPNOTSUPP, ENODEV on
  PRECISE, EINTR/EAGAIN/EBUSY retries, device gone and reopen), PHC times
  copied by old kernels, garbage readings, the sentinel read, counters, and
  the ioctl numbers used (the original ones only, GETCAPS only at open).
  */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>
#include <linux/ptp_clock.h>

#include "fake_phc.h"

typedef struct {
  FAKE_Phc *f;
  PHCR_Config cfg;
  PHCR_Reader r;
  int dev;
} Fix;

static int
setup(void **state)
{
  Fix *x = test_calloc(1, sizeof (*x));

  x->f = FAKE_Create(7);
  assert_non_null(x->f);
  FAKE_AddSysfsPtp(x->f, 0, "KVM virtual PTP");
  x->dev = FAKE_AddDevice(x->f, "/dev/ptp0");
  FAKE_SetOffset(x->f, x->dev, 37000000123LL);
  PHCR_ConfigDefaults(&x->cfg);
  *state = x;
  return 0;
}

static int
teardown(void **state)
{
  Fix *x = *state;

  PHCR_Close(x->r);
  FAKE_Destroy(x->f);
  test_free(x);
  return 0;
}

static void
open_reader(Fix *x)
{
  PHCR_Discovery d;

  assert_int_equal(PHCR_Open("auto", NULL, &x->cfg, &x->r, &d), PHCR_OK);
  assert_string_equal(PHCR_GetPath(x->r), "/dev/ptp0");
}

static void
check_sample(Fix *x, const PHCR_Result *res)
{
  int64_t truth = FAKE_GetOffset(x->f, x->dev);

  assert_int_equal(res->error, PHCR_OK);
  assert_true(fabs((double)(res->sample.offset_ns - truth)) <= res->sample.error * 1e9);
}

/* ================================================== */

static void
test_precise_first(void **state)
{
  Fix *x = *state;
  PHCR_Result res;
  FAKE_Counters c;

  open_reader(x);
  assert_int_equal(PHCR_GetMode(x->r), PHCR_MODE_PRECISE);
  assert_int_equal(PHCR_Read(x->r, 0, 0.0, &res), PHCR_OK);
  assert_int_equal(res.mode, PHCR_MODE_PRECISE);
  assert_int_equal(res.prev_mode, PHCR_MODE_NONE);
  check_sample(x, &res);
  FAKE_GetCounters(x->f, &c);
  assert_int_equal(c.ioctl_mode[PHCR_MODE_PRECISE], 1);
  assert_int_equal(c.ioctl_mode[PHCR_MODE_BASIC], 0);
}

/* ptp_kvm on a tsc guest: PRECISE ENODEV, EXTENDED EOPNOTSUPP, basic ok;
   all in the first read; EXTENDED is then disabled for good */
static void
test_fallback_same_call(void **state)
{
  Fix *x = *state;
  PHCR_Result res;
  FAKE_Counters c;
  int i;

  x->cfg.reprobe_interval = 5.0;
  FAKE_SetModeErrno(x->f, x->dev, PHCR_MODE_PRECISE, ENODEV);
  FAKE_SetModeErrno(x->f, x->dev, PHCR_MODE_EXTENDED, EOPNOTSUPP);
  open_reader(x);
  assert_int_equal(PHCR_Read(x->r, 10, 0.0, &res), PHCR_OK);
  assert_int_equal(res.mode, PHCR_MODE_BASIC);
  assert_int_equal(res.attempt[PHCR_MODE_PRECISE].error, PHCR_ERR_CLOCKSOURCE);
  assert_int_equal(res.attempt[PHCR_MODE_PRECISE].sys_errno, ENODEV);
  assert_int_equal(res.attempt[PHCR_MODE_EXTENDED].error, PHCR_ERR_HOST_NOTSUPP);
  assert_int_equal(res.attempt[PHCR_MODE_BASIC].error, PHCR_OK);
  assert_int_equal(res.sample.n_total, 10);
  check_sample(x, &res);
  assert_int_equal(PHCR_GetBestMode(x->r), PHCR_MODE_PRECISE);

  /* later reads stay in basic and do not touch EXTENDED, even re-probing */
  for (i = 0; i < 40; i++) {
    assert_int_equal(PHCR_Read(x->r, 10, i, &res), PHCR_OK);
    assert_int_equal(res.mode, PHCR_MODE_BASIC);
  }
  FAKE_GetCounters(x->f, &c);
  assert_int_equal(c.ioctl_mode[PHCR_MODE_EXTENDED], 1);
  assert_true(c.ioctl_mode[PHCR_MODE_PRECISE] >= 2);
}

/* Re-probe by time: failed re-probes restart the interval */
static void
test_reprobe_by_time(void **state)
{
  Fix *x = *state;
  PHCR_Result res;
  FAKE_Counters c;

  x->cfg.reprobe_interval = 10.0;
  FAKE_SetModeErrno(x->f, x->dev, PHCR_MODE_PRECISE, ENODEV);
  open_reader(x);
  assert_int_equal(PHCR_Read(x->r, 4, 100.0, &res), PHCR_OK);
  assert_int_equal(res.mode, PHCR_MODE_EXTENDED);
  assert_int_equal(res.attempt[PHCR_MODE_PRECISE].error, PHCR_ERR_CLOCKSOURCE);
  assert_int_equal(PHCR_Read(x->r, 4, 109.9, &res), PHCR_OK);
  assert_int_equal(res.attempt[PHCR_MODE_PRECISE].attempts, 0);
  FAKE_GetCounters(x->f, &c);
  assert_int_equal(c.ioctl_mode[PHCR_MODE_PRECISE], 1);
  assert_int_equal(PHCR_Read(x->r, 4, 110.0, &res), PHCR_OK);
  assert_int_equal(res.attempt[PHCR_MODE_PRECISE].attempts, 1);
  assert_int_equal(res.mode, PHCR_MODE_EXTENDED);
  assert_int_equal(res.prev_mode, PHCR_MODE_EXTENDED);
  FAKE_GetCounters(x->f, &c);
  assert_int_equal(c.ioctl_mode[PHCR_MODE_PRECISE], 2);

  /* the guest clocksource is kvm-clock again */
  FAKE_SetModeErrno(x->f, x->dev, PHCR_MODE_PRECISE, 0);
  assert_int_equal(PHCR_Read(x->r, 4, 119.0, &res), PHCR_OK);
  assert_int_equal(res.mode, PHCR_MODE_EXTENDED);
  assert_int_equal(PHCR_Read(x->r, 4, 120.5, &res), PHCR_OK);
  assert_int_equal(res.mode, PHCR_MODE_PRECISE);
  assert_int_equal(res.prev_mode, PHCR_MODE_EXTENDED);
  assert_int_equal(PHCR_GetMode(x->r), PHCR_MODE_PRECISE);
}

/* nocrossts / noextended flags and caps without cross-timestamping */
static void
test_exclusions(void **state)
{
  Fix *x = *state;
  PHCR_Result res;
  FAKE_Counters c;
  int i;

  x->cfg.flags = PHCR_FLAG_NOCROSSTS;
  x->cfg.reprobe_interval = 0.5;
  open_reader(x);
  assert_int_equal(PHCR_GetBestMode(x->r), PHCR_MODE_EXTENDED);
  for (i = 0; i < 5; i++) {
    assert_int_equal(PHCR_Read(x->r, 3, i, &res), PHCR_OK);
    assert_int_equal(res.mode, PHCR_MODE_EXTENDED);
  }
  PHCR_Close(x->r);

  x->cfg.flags = PHCR_FLAG_NOCROSSTS | PHCR_FLAG_NOEXTENDED;
  open_reader(x);
  for (i = 0; i < 5; i++) {
    assert_int_equal(PHCR_Read(x->r, 3, i, &res), PHCR_OK);
    assert_int_equal(res.mode, PHCR_MODE_BASIC);
  }
  PHCR_Close(x->r);

  x->cfg.flags = 0;
  FAKE_SetCrossTimestamping(x->f, x->dev, 0);
  open_reader(x);
  assert_int_equal(PHCR_Read(x->r, 3, 0, &res), PHCR_OK);
  assert_int_equal(res.mode, PHCR_MODE_EXTENDED);

  FAKE_GetCounters(x->f, &c);
  assert_int_equal(c.ioctl_mode[PHCR_MODE_PRECISE], 0);
  assert_int_equal(c.ioctl_mode[PHCR_MODE_EXTENDED], 6);
  assert_int_equal(c.ioctl_mode[PHCR_MODE_BASIC], 5);
}

/* EINTR/EAGAIN/EBUSY: retried in the same mode within bounds */
static void
test_retry_classes(void **state)
{
  Fix *x = *state;
  PHCR_Result res;

  open_reader(x);
  FAKE_QueueErrno(x->f, x->dev, PHCR_MODE_PRECISE, EINTR, 1);
  FAKE_QueueErrno(x->f, x->dev, PHCR_MODE_PRECISE, EAGAIN, 1);
  FAKE_QueueErrno(x->f, x->dev, PHCR_MODE_PRECISE, EBUSY, 1);
  assert_int_equal(PHCR_Read(x->r, 0, 0.0, &res), PHCR_OK);
  assert_int_equal(res.mode, PHCR_MODE_PRECISE);
  assert_int_equal(res.attempt[PHCR_MODE_PRECISE].attempts, 4);

  /* more than 3 retries: RETRY class, fall back */
  FAKE_QueueErrno(x->f, x->dev, PHCR_MODE_PRECISE, EBUSY, 4);
  assert_int_equal(PHCR_Read(x->r, 0, 0.0, &res), PHCR_OK);
  assert_int_equal(res.attempt[PHCR_MODE_PRECISE].error, PHCR_ERR_RETRY);
  assert_int_equal(res.attempt[PHCR_MODE_PRECISE].attempts, 4);
  assert_int_equal(res.attempt[PHCR_MODE_EXTENDED].attempts, 1);
  assert_int_equal(res.mode, PHCR_MODE_EXTENDED);

  /* basic retries exhausted with nothing below: RETRY returned */
  PHCR_Close(x->r);
  x->cfg.flags = PHCR_FLAG_NOCROSSTS | PHCR_FLAG_NOEXTENDED;
  open_reader(x);
  FAKE_QueueErrno(x->f, x->dev, PHCR_MODE_BASIC, EINTR, 10);
  assert_int_equal(PHCR_Read(x->r, 0, 0.0, &res), PHCR_ERR_RETRY);
  assert_int_equal(res.mode, PHCR_MODE_NONE);
  assert_int_equal(res.attempt[PHCR_MODE_BASIC].attempts, 4);
}

/* PRECISE fails with EINVAL when the device's counter value lies before
   the current timekeeping interval: retried; if it persists, basic is used
   for this read only and the next read starts with PRECISE again */
static void
test_precise_einval(void **state)
{
  Fix *x = *state;
  PHCR_Result res;
  FAKE_Counters c;

  x->cfg.flags = PHCR_FLAG_NOEXTENDED;
  open_reader(x);
  FAKE_QueueErrno(x->f, x->dev, PHCR_MODE_PRECISE, EINVAL, 2);
  assert_int_equal(PHCR_Read(x->r, 0, 0.0, &res), PHCR_OK);
  assert_int_equal(res.mode, PHCR_MODE_PRECISE);
  assert_int_equal(res.attempt[PHCR_MODE_PRECISE].attempts, 3);

  FAKE_QueueErrno(x->f, x->dev, PHCR_MODE_PRECISE, EINVAL, 4);
  assert_int_equal(PHCR_Read(x->r, 0, 1.0, &res), PHCR_OK);
  assert_int_equal(res.attempt[PHCR_MODE_PRECISE].error, PHCR_ERR_RETRY);
  assert_int_equal(res.mode, PHCR_MODE_BASIC);
  assert_int_equal(PHCR_GetMode(x->r), PHCR_MODE_PRECISE);

  FAKE_GetCounters(x->f, &c);
  assert_int_equal(PHCR_Read(x->r, 0, 2.0, &res), PHCR_OK);
  assert_int_equal(res.mode, PHCR_MODE_PRECISE);
  assert_int_equal(res.prev_mode, PHCR_MODE_BASIC);
  check_sample(x, &res);
}

/* A probe (the retry after failures) issues one ioctl where the host
   cannot answer, but passes a PRECISE that fails for the clocksource */
static void
test_probe(void **state)
{
  Fix *x = *state;
  PHCR_Result res;
  FAKE_Counters c0, c1;
  int i;

  x->cfg.flags = PHCR_FLAG_NOEXTENDED;
  open_reader(x);
  for (i = PHCR_MODE_BASIC; i <= PHCR_MODE_PRECISE; i++)
    FAKE_SetModeErrno(x->f, x->dev, i, EOPNOTSUPP);
  FAKE_GetCounters(x->f, &c0);
  assert_int_equal(PHCR_ReadOne(x->r, 1, 0.0, &res), PHCR_ERR_HOST_NOTSUPP);
  FAKE_GetCounters(x->f, &c1);
  assert_int_equal(c1.ioctl_mode[PHCR_MODE_PRECISE] - c0.ioctl_mode[PHCR_MODE_PRECISE], 1);
  assert_int_equal(c1.ioctl_mode[PHCR_MODE_BASIC] - c0.ioctl_mode[PHCR_MODE_BASIC], 0);

  /* A full read tries every mode */
  assert_int_equal(PHCR_Read(x->r, 0, 1.0, &res), PHCR_ERR_HOST_NOTSUPP);
  FAKE_GetCounters(x->f, &c0);
  assert_int_equal(c0.ioctl_mode[PHCR_MODE_BASIC] - c1.ioctl_mode[PHCR_MODE_BASIC], 1);

  /* The host answers again, the guest is on the tsc clocksource */
  FAKE_SetModeErrno(x->f, x->dev, PHCR_MODE_BASIC, 0);
  FAKE_SetModeErrno(x->f, x->dev, PHCR_MODE_PRECISE, ENODEV);
  assert_int_equal(PHCR_ReadOne(x->r, 1, 2.0, &res), PHCR_OK);
  assert_int_equal(res.mode, PHCR_MODE_BASIC);
  assert_int_equal(res.sample.n_total, 1);
  check_sample(x, &res);
}

/* A PHC time equal to the system time before it: a copy for a failed read
   by a kernel < 5.0, which does not know PTP_SYS_OFFSET_EXTENDED (ENOTTY):
   "host cannot answer"; a coincidence of timestamps where the kernel
   answers EXTENDED (here EOPNOTSUPP, as for ptp_kvm): an invalid reading,
   retried */
static void
test_copied_times(void **state)
{
  Fix *x = *state;
  PHCR_Result res;
  PKM_Noise noise;
  FAKE_Counters c0, c1;

  FAKE_NoiseDefaults(&noise);
  noise.jitter_ns = 0.0;
  FAKE_SetNoise(x->f, x->dev, &noise);
  /* the PHC is read out_ns after the system time before it */
  FAKE_SetOffset(x->f, x->dev, -(int64_t)noise.out_ns);
  x->cfg.flags = PHCR_FLAG_NOCROSSTS;
  open_reader(x);

  FAKE_SetModeErrno(x->f, x->dev, PHCR_MODE_EXTENDED, ENOTTY);
  assert_int_equal(PHCR_ReadOne(x->r, 0, 0.0, &res), PHCR_ERR_HOST_NOTSUPP);
  assert_int_equal(res.attempt[PHCR_MODE_BASIC].attempts, 1);

  FAKE_SetModeErrno(x->f, x->dev, PHCR_MODE_EXTENDED, EOPNOTSUPP);
  FAKE_GetCounters(x->f, &c0);
  assert_int_equal(PHCR_ReadOne(x->r, 0, 1.0, &res), PHCR_ERR_INVALID);
  FAKE_GetCounters(x->f, &c1);
  assert_int_equal(c1.ioctl_mode[PHCR_MODE_BASIC] - c0.ioctl_mode[PHCR_MODE_BASIC], 4);
  assert_int_equal(PHCR_Read(x->r, 0, 2.0, &res), PHCR_ERR_INVALID);

  FAKE_SetOffset(x->f, x->dev, 1000);
  assert_int_equal(PHCR_Read(x->r, 0, 3.0, &res), PHCR_OK);
  assert_int_equal(res.mode, PHCR_MODE_BASIC);
}

/* The host cannot answer (migration): every mode EOPNOTSUPP; reported,
   never silent; when the host can answer again it recovers */
static void
test_host_notsupp(void **state)
{
  Fix *x = *state;
  PHCR_Result res;
  PHCR_Counters rc;
  int i;

  open_reader(x);
  assert_int_equal(PHCR_Read(x->r, 0, 0.0, &res), PHCR_OK);
  for (i = PHCR_MODE_BASIC; i <= PHCR_MODE_PRECISE; i++)
    FAKE_SetModeErrno(x->f, x->dev, i, EOPNOTSUPP);
  for (i = 0; i < 3; i++) {
    assert_int_equal(PHCR_Read(x->r, 0, 1.0 + i, &res), PHCR_ERR_HOST_NOTSUPP);
    assert_int_equal(res.attempt[PHCR_MODE_BASIC].error, PHCR_ERR_HOST_NOTSUPP);
    assert_int_equal(res.mode, PHCR_MODE_NONE);
    assert_int_equal(res.sys_errno, EOPNOTSUPP);
  }

  /* The errno reported is that of the last (worst) mode tried */
  FAKE_SetModeErrno(x->f, x->dev, PHCR_MODE_BASIC, EIO);
  assert_int_equal(PHCR_Read(x->r, 0, 4.0, &res), PHCR_ERR_OTHER);
  assert_int_equal(res.sys_errno, EIO);
  assert_int_equal(res.attempt[PHCR_MODE_PRECISE].sys_errno, EOPNOTSUPP);
  PHCR_GetCounters(x->r, &rc);
  assert_int_equal(rc.failed_reads, 4);

  for (i = PHCR_MODE_BASIC; i <= PHCR_MODE_PRECISE; i++)
    FAKE_SetModeErrno(x->f, x->dev, i, 0);
  assert_int_equal(PHCR_Read(x->r, 0, 10.0, &res), PHCR_OK);
  check_sample(x, &res);
}

/* Device gone: GONE at once (no fallback), reopen after it comes back */
static void
test_gone_and_reopen(void **state)
{
  Fix *x = *state;
  PHCR_Discovery d;
  PHCR_Result res;
  FAKE_Counters c;
  int dev2;

  x->cfg.flags = PHCR_FLAG_NOCROSSTS;
  open_reader(x);
  FAKE_RemoveDevice(x->f, x->dev);
  assert_int_equal(PHCR_Read(x->r, 5, 0.0, &res), PHCR_ERR_GONE);
  assert_int_equal(res.attempt[PHCR_MODE_EXTENDED].error, PHCR_ERR_GONE);
  assert_int_equal(res.attempt[PHCR_MODE_BASIC].attempts, 0);

  assert_int_equal(PHCR_Reopen(x->r, &d), PHCR_ERR_NODEVICE);
  FAKE_GetCounters(x->f, &c);
  assert_int_equal(c.open_fds, 0);
  assert_int_equal(PHCR_Read(x->r, 5, 0.0, &res), PHCR_ERR_GONE);

  /* hot-plugged again (new device at the same path) */
  dev2 = FAKE_AddDevice(x->f, "/dev/ptp0");
  FAKE_SetOffset(x->f, dev2, -5000);
  assert_int_equal(PHCR_Reopen(x->r, &d), PHCR_OK);
  assert_int_equal(PHCR_Read(x->r, 5, 0.0, &res), PHCR_OK);
  assert_true(llabs(res.sample.offset_ns + 5000) < 2000);
  FAKE_GetCounters(x->f, &c);
  assert_int_equal(c.open_fds, 1);

}

/* Garbage: partial rejects keep the sample, full garbage is retried, then
   falls back */
static void
test_garbage(void **state)
{
  static const PKM_Garbage partial[] = {
    PKM_GARBAGE_NSEC, PKM_GARBAGE_NEG_NSEC, PKM_GARBAGE_ORDER, PKM_GARBAGE_DELAY
  };
  Fix *x = *state;
  PHCR_Result res;
  size_t i;

  x->cfg.flags = PHCR_FLAG_NOCROSSTS;
  open_reader(x);
  for (i = 0; i < sizeof (partial) / sizeof (partial[0]); i++) {
    FAKE_QueueGarbage(x->f, x->dev, PHCR_MODE_EXTENDED, partial[i], 1);
    assert_int_equal(PHCR_Read(x->r, 8, 0.0, &res), PHCR_OK);
    assert_int_equal(res.mode, PHCR_MODE_EXTENDED);
    assert_int_equal(res.attempt[PHCR_MODE_EXTENDED].attempts, 1);
    assert_int_equal(res.sample.n_total, 7);
    check_sample(x, &res);
  }

  /* whole reading invalid once: retried in the same mode */
  FAKE_QueueGarbage(x->f, x->dev, PHCR_MODE_EXTENDED, PKM_GARBAGE_NONMONO, 1);
  assert_int_equal(PHCR_Read(x->r, 8, 0.0, &res), PHCR_OK);
  assert_int_equal(res.mode, PHCR_MODE_EXTENDED);
  assert_int_equal(res.attempt[PHCR_MODE_EXTENDED].attempts, 2);
  assert_int_equal(res.sample.n_total, 8);

  /* persistently invalid: falls back to basic */
  FAKE_QueueGarbage(x->f, x->dev, PHCR_MODE_EXTENDED, PKM_GARBAGE_ALL_NSEC, 100);
  assert_int_equal(PHCR_Read(x->r, 8, 0.0, &res), PHCR_OK);
  assert_int_equal(res.attempt[PHCR_MODE_EXTENDED].error, PHCR_ERR_INVALID);
  assert_int_equal(res.mode, PHCR_MODE_BASIC);
  check_sample(x, &res);

  /* basic zero garbage and nothing below: INVALID */
  FAKE_QueueGarbage(x->f, x->dev, PHCR_MODE_BASIC, PKM_GARBAGE_ZERO, 100);
  assert_int_equal(PHCR_Read(x->r, 8, 0.0, &res), PHCR_ERR_INVALID);
  assert_int_equal(res.attempt[PHCR_MODE_BASIC].attempts, 4);
}

/* Sentinel: one device sample, no re-probe */
static void
test_sentinel(void **state)
{
  Fix *x = *state;
  PHCR_Result res;
  FAKE_Counters c0, c1;

  /* a re-probe is due by time at the sentinel reads: they must not do it */
  x->cfg.reprobe_interval = 0.5;
  FAKE_SetModeErrno(x->f, x->dev, PHCR_MODE_PRECISE, ENODEV);
  open_reader(x);
  assert_int_equal(PHCR_Read(x->r, 10, 0.0, &res), PHCR_OK);
  assert_int_equal(res.mode, PHCR_MODE_EXTENDED);
  FAKE_GetCounters(x->f, &c0);
  assert_int_equal(PHCR_ReadOne(x->r, 0, 1.0, &res), PHCR_OK);
  assert_int_equal(res.attempt[PHCR_MODE_PRECISE].attempts, 0);
  assert_int_equal(PHCR_ReadOne(x->r, 0, 2.0, &res), PHCR_OK);
  FAKE_GetCounters(x->f, &c1);
  assert_int_equal(c1.device_samples - c0.device_samples, 2);
  assert_int_equal(c1.ioctl_mode[PHCR_MODE_PRECISE], c0.ioctl_mode[PHCR_MODE_PRECISE]);
  assert_int_equal(res.sample.n_total, 1);
  check_sample(x, &res);
}

/* Only GETCAPS at open, then only the original reading ioctls */
static void
test_ioctl_numbers(void **state)
{
  unsigned long log[FAKE_LOG_MAX];
  Fix *x = *state;
  PHCR_Result res;
  FAKE_Counters c;
  int i, n;

  x->cfg.reprobe_interval = 2.0;
  open_reader(x);
  for (i = 0; i < 60; i++) {
    if (i % 7 == 0)
      FAKE_QueueErrno(x->f, x->dev, PHCR_MODE_PRECISE, ENODEV, 1);
    if (i % 11 == 0)
      FAKE_QueueErrno(x->f, x->dev, PHCR_MODE_EXTENDED, EOPNOTSUPP, 1);
    PHCR_Read(x->r, i % 26, i, &res);
    PHCR_ReadOne(x->r, 0, i, &res);
  }
  FAKE_GetCounters(x->f, &c);
  assert_int_equal(c.getcaps, 1);
  assert_int_equal(c.other_ioctls, 0);
  n = FAKE_GetIoctlLog(x->f, log, FAKE_LOG_MAX);
  assert_true(n > 100);
  for (i = 0; i < n; i++)
    assert_true(log[i] == PTP_SYS_OFFSET || log[i] == PTP_SYS_OFFSET_PRECISE ||
                log[i] == PTP_SYS_OFFSET_EXTENDED ||
                (i == 0 && n < FAKE_LOG_MAX && log[i] == PTP_CLOCK_GETCAPS));
  assert_true(c.ioctl_mode[PHCR_MODE_BASIC] > 0);
}

/* Device readings taken by one read */
static unsigned long
samples_read(Fix *x, int n)
{
  FAKE_Counters c0, c1;
  PHCR_Result res;

  FAKE_GetCounters(x->f, &c0);
  assert_int_equal(PHCR_Read(x->r, n, 0.0, &res), PHCR_OK);
  FAKE_GetCounters(x->f, &c1);
  return c1.device_samples - c0.device_samples;
}

/* n_samples: 0 = default, clamped to 25 */
static void
test_n_samples(void **state)
{
  Fix *x = *state;
  PHCR_Result res;

  x->cfg.flags = PHCR_FLAG_NOCROSSTS;
  x->cfg.n_samples = 7;
  open_reader(x);
  assert_int_equal(samples_read(x, 0), 7);
  assert_int_equal(samples_read(x, 40), 25);
  assert_int_equal(PHCR_Read(x->r, 40, 0.0, &res), PHCR_OK);
  assert_int_equal(res.sample.n_total, 25);
  assert_int_equal(samples_read(x, -3), 7);
}

/* Open failure leaves no reader and no fd */
static void
test_open_failure(void **state)
{
  Fix *x = *state;
  PHCR_Discovery d;
  FAKE_Counters c;

  assert_int_equal(PHCR_Open("auto", "nothing", &x->cfg, &x->r, &d),
                   PHCR_ERR_NODEVICE);
  assert_null(x->r);
  assert_non_null(strstr(d.error, "/dev/ptp0 'KVM virtual PTP'"));
  FAKE_GetCounters(x->f, &c);
  assert_int_equal(c.open_fds, 0);
}

/* Counters follow the reads */
static void
test_counters(void **state)
{
  Fix *x = *state;
  PHCR_Counters rc;
  PHCR_Result res;
  int i;

  x->cfg.flags = PHCR_FLAG_NOCROSSTS;
  open_reader(x);
  for (i = 0; i < 20; i++)
    assert_int_equal(PHCR_Read(x->r, 10, i, &res), PHCR_OK);
  assert_int_equal(PHCR_ReadOne(x->r, 0, 20.0, &res), PHCR_OK);
  PHCR_GetCounters(x->r, &rc);
  assert_int_equal(rc.reads, 21);
  assert_int_equal(rc.sentinel_reads, 1);
  assert_int_equal(rc.failed_reads, 0);

  /* a retried ioctl is one read */
  FAKE_QueueErrno(x->f, x->dev, PHCR_MODE_EXTENDED, EINTR, 1);
  assert_int_equal(PHCR_Read(x->r, 10, 21.0, &res), PHCR_OK);
  assert_int_equal(res.attempt[PHCR_MODE_EXTENDED].attempts, 2);
  PHCR_GetCounters(x->r, &rc);
  assert_int_equal(rc.reads, 22);
  assert_int_equal(rc.failed_reads, 0);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
    T(test_precise_first),
    T(test_fallback_same_call),
    T(test_reprobe_by_time),
    T(test_exclusions),
    T(test_retry_classes),
    T(test_precise_einval),
    T(test_probe),
    T(test_host_notsupp),
    T(test_copied_times),
    T(test_gone_and_reopen),
    T(test_garbage),
    T(test_sentinel),
    T(test_ioctl_numbers),
    T(test_n_samples),
    T(test_open_failure),
    T(test_counters),
  };

  return cmocka_run_group_tests_name("phcr_reader", tests, NULL, NULL);
}
