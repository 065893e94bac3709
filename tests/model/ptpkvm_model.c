/*
  chrony-ptpkvm: model of a PTP hardware clock device for the tests
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

  The device's answers (see ptpkvm_model.h).  PTP_SYS_OFFSET reads guest
  REALTIME and the clock in turn (ptp_chardev.c), every clock access pays
  an outbound and a return latency with exponential jitter and rare
  spikes on one side; ptp_kvm's PRECISE is one hypercall whose result
  get_device_system_crosststamp() refuses afterwards on the tsc
  clocksource (ENODEV).  Before 5.0 ptp_chardev.c ignored a failed
  gettime64() (the PHC timestamp stays the system timestamp before it)
  and knew neither EXTENDED nor the "2" ioctls.
  */

#include <errno.h>
#include <math.h>
#include <string.h>
#include <linux/ptp_clock.h>

#include "ptpkvm_model.h"

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
/* Does a condition hold now (drawn from the fault stream when its
   probability is below 1)? */

static int
strikes(const PKM_Env *e, const PKM_Device *d, PKM_Condition cond)
{
  double p = e->chance(e->ctx, d->id, cond);

  if (p <= 0.0)
    return 0;
  return p >= 1.0 || e->uniform(e->ctx, PKM_RNG_FAULT) < p;
}

/* ================================================== */

static double
latency(const PKM_Env *e, const PKM_Noise *n, double base)
{
  return base - n->jitter_ns * log(1.0 - e->uniform(e->ctx, PKM_RNG_NOISE));
}

static double
gauss_ns(const PKM_Env *e, double sigma)
{
  return sigma > 0.0 ? sigma * e->gauss(e->ctx, PKM_RNG_NOISE) : 0.0;
}

/* ================================================== */
/* One access of the clock: 0 and its time at the moment of the read (and
   the guest's system times then, for a cross-timestamp), or a negative
   errno.  On ptp_kvm it is a hypercall the host may fail to answer. */

static int
device_read(const PKM_Env *e, const PKM_Device *d, int site, int64_t *phc,
            int64_t *rt, int64_t *raw)
{
  const PKM_Noise *n = &d->noise;
  double out = latency(e, n, n->out_ns), back = latency(e, n, n->back_ns), spike;

  if (e->uniform(e->ctx, PKM_RNG_NOISE) < n->spike_prob) {
    spike = n->spike_min_ns + (n->spike_max_ns - n->spike_min_ns) *
            e->uniform(e->ctx, PKM_RNG_NOISE);
    if (e->uniform(e->ctx, PKM_RNG_NOISE) < 0.5)
      out += spike;
    else
      back += spike;
  }

  e->access(e->ctx, d->id);
  if (d->kind == PKM_KVM && strikes(e, d, PKM_COND_HOSTFAIL)) {
    e->advance(e->ctx, out + back);
    if (e->access_failed)
      e->access_failed(e->ctx, d->id, site);
    return -EOPNOTSUPP;
  }

  e->advance(e->ctx, out);
  *phc = e->phc(e->ctx, d->id);
  if (strikes(e, d, PKM_COND_WILD))
    *phc += llround((e->uniform(e->ctx, PKM_RNG_FAULT) - 0.5) * 2000e9);
  if (rt)
    e->crosststamp(e->ctx, rt, raw);
  e->advance(e->ctx, back);
  return 0;
}

/* ================================================== */
/* A system timestamp and a PHC timestamp of SYS_OFFSET/EXTENDED, with the
   device's timestamp noise (out of order when larger than their spacing) */

static void
sys_stamp(const PKM_Env *e, const PKM_Device *d, struct ptp_clock_time *pt)
{
  int64_t t = e->realtime(e->ctx);

  set_pt(pt, t + llround(gauss_ns(e, d->noise.sys_ts_noise_ns)));
}

static void
phc_stamp(const PKM_Env *e, const PKM_Device *d, int64_t phc, struct ptp_clock_time *pt)
{
  set_pt(pt, phc + llround(gauss_ns(e, d->noise.phc_ts_noise_ns)));
}

/* ================================================== */
/* Timestamp j (0 system before, 1 PHC, 2 system after) of sample i of a
   SYS_OFFSET (consecutive samples share a system timestamp) or EXTENDED */

static struct ptp_clock_time *
stamp(void *arg, int extended, unsigned int i, unsigned int j)
{
  if (extended)
    return &((struct ptp_sys_offset_extended *)arg)->ts[i][j];
  return &((struct ptp_sys_offset *)arg)->ts[2 * i + j];
}

static void
spoil_samples(void *arg, int extended, unsigned int n, PKM_Garbage g)
{
  unsigned int i, j;

  if (n == 0)
    return;
  switch (g) {
    case PKM_GARBAGE_NSEC:
    case PKM_GARBAGE_NEG_NSEC:
      stamp(arg, extended, 0, 1)->nsec = g == PKM_GARBAGE_NSEC ? 1000000000U : 0xffffffffU;
      break;
    case PKM_GARBAGE_ORDER:
      stamp(arg, extended, 0, 2)->sec -= 1;
      break;
    case PKM_GARBAGE_NONMONO:
      for (i = 1; i < n; i++)
        for (j = extended ? 0 : 1; j <= (extended ? 2U : 1U); j++)
          stamp(arg, extended, i, j)->sec -= 1;
      break;
    case PKM_GARBAGE_DELAY:
      stamp(arg, extended, 0, 0)->sec -= 2;
      break;
    case PKM_GARBAGE_ALL_NSEC:
      for (i = 0; i < n; i++)
        stamp(arg, extended, i, 1)->nsec = 1000000001U;
      break;
    case PKM_GARBAGE_ZERO:
      memset(stamp(arg, extended, 0, 0), 0,
             extended ? sizeof (((struct ptp_sys_offset_extended *)arg)->ts) :
             sizeof (((struct ptp_sys_offset *)arg)->ts));
      break;
    default:
      break;
  }
}

/* ================================================== */

static void
spoil_precise(struct ptp_sys_offset_precise *p, PKM_Garbage g)
{
  switch (g) {
    case PKM_GARBAGE_NONE:
      break;
    case PKM_GARBAGE_NEG_NSEC:
      p->device.nsec = 0xffffffffU;
      break;
    case PKM_GARBAGE_ZERO:
      memset(p, 0, sizeof (*p));
      break;
    case PKM_GARBAGE_ORDER:
    case PKM_GARBAGE_DELAY:
      p->sys_realtime.sec = -1;
      break;
    default:
      p->device.nsec = 1000000000U;
      break;
  }
}

/* ================================================== */

void
PKM_Caps(const PKM_Device *d, struct ptp_clock_caps *caps)
{
  memset(caps, 0, sizeof (*caps));
  if (d->kind == PKM_KVM) {
    caps->cross_timestamping = 1;
    return;
  }
  caps->max_adj = 1000000000;
  caps->n_ext_ts = 3;
  caps->n_per_out = 3;
  caps->n_pins = 4;
  caps->pps = 1;
  caps->cross_timestamping = d->cross;
}

/* ================================================== */

static int
sys_offset(const PKM_Env *e, const PKM_Device *d, struct ptp_sys_offset *so,
           PKM_Garbage g)
{
  unsigned int i;
  int64_t phc;
  int r;

  if (e->sampling)
    e->sampling(e->ctx, d->id);
  if (so->n_samples > PTP_MAX_SAMPLES)
    return -EINVAL;
  for (i = 0; i < so->n_samples; i++) {
    sys_stamp(e, d, &so->ts[2 * i]);
    if ((r = device_read(e, d, PKM_SITE_OFFSET, &phc, NULL, NULL)) < 0) {
      /* Before 5.0 the result of gettime64() was ignored: the PHC
         timestamp is the system timestamp just read, unchanged */
      if (!d->kernel_pre50)
        return r;
      so->ts[2 * i + 1] = so->ts[2 * i];
      continue;
    }
    phc_stamp(e, d, phc, &so->ts[2 * i + 1]);
  }
  sys_stamp(e, d, &so->ts[2 * i]);
  spoil_samples(so, 0, so->n_samples, g);
  return 0;
}

/* ================================================== */

static int
sys_offset_extended(const PKM_Env *e, const PKM_Device *d,
                    struct ptp_sys_offset_extended *so, PKM_Garbage g)
{
  unsigned int i;
  int64_t phc;
  int r;

  /* ptp_kvm has no gettimex64() */
  if (d->kind == PKM_KVM)
    return -EOPNOTSUPP;
  if (e->sampling)
    e->sampling(e->ctx, d->id);
  if (so->n_samples > PTP_MAX_SAMPLES)
    return -EINVAL;
  for (i = 0; i < so->n_samples; i++) {
    sys_stamp(e, d, &so->ts[i][0]);
    if ((r = device_read(e, d, PKM_SITE_OFFSET, &phc, NULL, NULL)) < 0)
      return r;
    phc_stamp(e, d, phc, &so->ts[i][1]);
    sys_stamp(e, d, &so->ts[i][2]);
  }
  spoil_samples(so, 1, so->n_samples, g);
  return 0;
}

/* ================================================== */

static int
sys_offset_precise(const PKM_Env *e, const PKM_Device *d,
                   struct ptp_sys_offset_precise *sp, PKM_Garbage g)
{
  int64_t phc, rt, raw;
  int r;

  if (d->kind != PKM_KVM && !d->cross)
    return -EOPNOTSUPP;
  /* get_device_system_crosststamp() calls the driver (one hypercall)
     before it finds that the counter is not the current clocksource */
  if ((r = device_read(e, d, PKM_SITE_PAIRING, &phc, &rt, &raw)) < 0)
    return r;
  if (d->kind == PKM_KVM && strikes(e, d, PKM_COND_TSC))
    return -ENODEV;
  /* The counter value read before the current timekeeping interval and no
     history to interpolate (ptp_kvm passes none) */
  if (strikes(e, d, PKM_COND_PRECISE_EINVAL))
    return -EINVAL;
  phc += llround(d->noise.precise_noise_ns * e->gauss(e->ctx, PKM_RNG_NOISE));
  memset(sp, 0, sizeof (*sp));
  set_pt(&sp->device, phc);
  set_pt(&sp->sys_realtime, rt);
  set_pt(&sp->sys_monoraw, raw);
  spoil_precise(sp, g);
  return 0;
}

/* ================================================== */
/* ioctls a guest kernel before 5.0 does not know: EXTENDED came in 5.0,
   the "2" variants in 5.4 */

static int
unknown_before_50(unsigned long req)
{
  return req == PTP_SYS_OFFSET_EXTENDED || req == PTP_SYS_OFFSET_EXTENDED2 ||
         req == PTP_CLOCK_GETCAPS2 || req == PTP_SYS_OFFSET2 ||
         req == PTP_SYS_OFFSET_PRECISE2;
}

/* ================================================== */

int
PKM_Ioctl(const PKM_Env *e, const PKM_Device *d, unsigned long req, void *arg,
          int inject_errno, PKM_Garbage g)
{
  if (!arg)
    return -EFAULT;
  if (d->kernel_pre50 && unknown_before_50(req))
    return -ENOTTY;
  if (strikes(e, d, PKM_COND_GONE))
    return -ENODEV;
  if (strikes(e, d, PKM_COND_EINTR))
    return -EINTR;
  if (inject_errno)
    return -inject_errno;

  switch (req) {
    case PTP_CLOCK_GETCAPS:
    case PTP_CLOCK_GETCAPS2:
      PKM_Caps(d, arg);
      return 0;
    case PTP_SYS_OFFSET:
    case PTP_SYS_OFFSET2:
      return sys_offset(e, d, arg, g);
    case PTP_SYS_OFFSET_PRECISE:
    case PTP_SYS_OFFSET_PRECISE2:
      return sys_offset_precise(e, d, arg, g);
    case PTP_SYS_OFFSET_EXTENDED:
    case PTP_SYS_OFFSET_EXTENDED2:
      return sys_offset_extended(e, d, arg, g);
    default:
      return -ENOTTY;
  }
}

/* ================================================== */

int
PKM_Gettime(const PKM_Env *e, const PKM_Device *d, int64_t *ns)
{
  if (strikes(e, d, PKM_COND_GONE))
    return -ENODEV;
  return device_read(e, d, PKM_SITE_OFFSET, ns, NULL, NULL);
}
