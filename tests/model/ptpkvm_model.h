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

  What a /dev/ptpN answers: the ptp ioctls and clock_gettime() of the
  ptp_kvm device (Linux drivers/ptp/ptp_chardev.c, ptp_kvm_common.c,
  ptp_kvm_x86.c) or of another PHC (a NIC), with the hypercall latencies,
  spikes, timestamp noise, fault conditions and garbage of
  docs/simulator.md.  The one model of the device shared by the guest
  simulator (tests/sim/sim_phc.c) and the fake backend of the unit, fuzz
  and doctor tests (tests/unit/fake_phc.c).  It owns no clock and no
  random generator: the embedder supplies the clocks, the passage of
  time, the fault conditions and the random streams through PKM_Env.
  */

#ifndef PTPKVM_MODEL_H
#define PTPKVM_MODEL_H

#include <stdint.h>

typedef enum {
  PKM_KVM,              /* ptp_kvm: hypercalls, PRECISE, no EXTENDED */
  PKM_NIC               /* another PHC: EXTENDED, PRECISE only if cross */
} PKM_Kind;

/* Delays and noise of one device (nanoseconds, probabilities 0..1) */
typedef struct {
  double out_ns;          /* latency from the guest to the clock's read */
  double back_ns;         /* latency from the clock's read back */
  double jitter_ns;       /* mean exponential extra latency of each side */
  double spike_prob;      /* probability of a spike per access; one side
                             gets a uniform spike_min..spike_max extra */
  double spike_min_ns, spike_max_ns;
  double precise_noise_ns;/* Gaussian sigma of PRECISE's device time */
  double sys_ts_noise_ns; /* Gaussian sigma of the system timestamps and */
  double phc_ts_noise_ns; /* of the PHC timestamps of SYS_OFFSET/EXTENDED */
} PKM_Noise;

typedef struct {
  PKM_Kind kind;
  int cross;            /* PKM_NIC: getcrosststamp exists (PRECISE works,
                           caps.cross_timestamping); ptp_kvm always has it */
  int kernel_pre50;     /* guest kernel < 5.0 (ptp_chardev.c of 4.x) */
  int id;               /* the embedder's number, passed to PKM_Env */
  PKM_Noise noise;
} PKM_Device;

/* Conditions the embedder decides with a probability (0 = not now) */
typedef enum {
  PKM_COND_HOSTFAIL,    /* the host cannot answer hypercalls */
  PKM_COND_GONE,        /* device removed: ENODEV on open descriptors */
  PKM_COND_EINTR,       /* an ioctl is interrupted */
  PKM_COND_WILD,        /* a reading is replaced by H +- up to 1000 s */
  PKM_COND_PRECISE_EINVAL, /* cross-timestamp counter before the interval */
  PKM_COND_TSC          /* guest clocksource is tsc, not kvm-clock */
} PKM_Condition;

/* Random streams asked from the embedder */
#define PKM_RNG_NOISE 0
#define PKM_RNG_FAULT 1

/* Call sites of pr_err_ratelimited() in ptp_kvm_x86.c */
#define PKM_SITE_OFFSET 0       /* "clock offset hypercall ret" (gettime) */
#define PKM_SITE_PAIRING 1      /* "clock pairing hypercall ret" (PRECISE) */

/* Kinds of malformed output an ioctl can be made to return */
typedef enum {
  PKM_GARBAGE_NONE = 0,
  PKM_GARBAGE_NSEC,     /* one tv_nsec = 1e9 */
  PKM_GARBAGE_NEG_NSEC, /* one tv_nsec < 0 */
  PKM_GARBAGE_ORDER,    /* one triplet with sys_after < sys_before */
  PKM_GARBAGE_NONMONO,  /* sys times go backwards between triplets */
  PKM_GARBAGE_DELAY,    /* one triplet with a 2 s delay */
  PKM_GARBAGE_ALL_NSEC, /* every triplet has a bad tv_nsec */
  PKM_GARBAGE_ZERO      /* all-zero timestamps */
} PKM_Garbage;

/* The embedder: clocks in ns as the kernel reports them */
typedef struct {
  void *ctx;
  /* ktime_get_real_ts64(): guest REALTIME (reading it may cost time) */
  int64_t (*realtime)(void *ctx);
  /* guest REALTIME and MONOTONIC_RAW at this instant (cross-timestamp) */
  void (*crosststamp)(void *ctx, int64_t *realtime, int64_t *monoraw);
  /* the PHC's time now, as the host (or the NIC) reads it */
  int64_t (*phc)(void *ctx, int id);
  /* true time passes */
  void (*advance)(void *ctx, double ns);
  /* [0, 1) and N(0, 1) of stream PKM_RNG_* */
  double (*uniform)(void *ctx, int stream);
  double (*gauss)(void *ctx, int stream);
  double (*chance)(void *ctx, int id, PKM_Condition cond);
  /* an access of the clock (a hypercall on ptp_kvm) begins */
  void (*access)(void *ctx, int id);
  /* optional: a hypercall failed (the guest kernel logs it at site) */
  void (*access_failed)(void *ctx, int id, int site);
  /* optional: a SYS_OFFSET or EXTENDED reading reached the driver */
  void (*sampling)(void *ctx, int id);
} PKM_Env;

/* One ioctl (PTP_CLOCK_GETCAPS, PTP_SYS_OFFSET, _PRECISE, _EXTENDED and
   their "2" variants; others ENOTTY).  inject_errno (if not 0) fails it
   where the device's checks pass; garbage spoils a successful result.
   Returns 0 or a negative errno. */
extern int PKM_Ioctl(const PKM_Env *env, const PKM_Device *dev, unsigned long req,
                     void *arg, int inject_errno, PKM_Garbage garbage);

/* The device's capabilities (PTP_CLOCK_GETCAPS, and sysfs) */
struct ptp_clock_caps;
extern void PKM_Caps(const PKM_Device *dev, struct ptp_clock_caps *caps);

/* clock_gettime() on the PHC: 0 and *ns, or a negative errno */
extern int PKM_Gettime(const PKM_Env *env, const PKM_Device *dev, int64_t *ns);

#endif
