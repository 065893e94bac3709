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

  Internal interface of the LD_PRELOAD guest simulator.  The simulator is
  split into the scenario parser (sim_scenario.c), the guest/host clock
  model with virtual time and the ground-truth log (sim_model.c), the
  emulated PTP hardware clocks and sysfs fixture (sim_phc.c) and the libc
  entry points that route a process's time, clock-control, device and
  waiting calls into the model (sim_interpose.c).
  */

#ifndef SIM_H
#define SIM_H

#include <stdio.h>
#include <sys/timex.h>
#include <time.h>

/* All model times are seconds held in long double (64-bit mantissa), kept
   relative to the scenario epoch so that sub-nanosecond resolution holds
   over days of simulated time. */
typedef long double SIM_Time;

#define SIM_MAX_EVENTS 4096
#define SIM_MAX_PHCS 4

typedef enum {
  SIM_EV_PAUSE,         /* VM stopped for arg seconds */
  SIM_EV_HOST_STEP,     /* host clock steps by arg seconds */
  SIM_EV_CLOCKSOURCE,   /* guest clocksource: iarg 1 = tsc, 0 = kvm-clock */
  SIM_EV_HOSTFAIL,      /* hypercalls fail with EOPNOTSUPP for arg seconds */
  SIM_EV_GONE,          /* PHC devices absent for arg seconds */
  SIM_EV_EINTR,         /* ioctls fail with EINTR (probability arg2) for arg s */
  SIM_EV_GARBAGE,       /* readings are garbage (probability arg2) for arg s */
  SIM_EV_MARK,          /* named mark in the truth log */
  SIM_EV_QUERY,         /* run SIM_QUERY with virtual time held (name) */
  SIM_EV_GUEST_STEP,    /* another program steps guest REALTIME by arg s */
  SIM_EV_SUSPEND,       /* guest suspend-to-RAM for arg seconds */
  SIM_EV_MIGRATE,       /* live migration / snapshot restore, downtime arg s */
  SIM_EV_HOST_LEAP,     /* host REALTIME inserts (iarg 1) / deletes (-1) a second */
  SIM_EV_PRECISE_EINVAL /* PRECISE fails with EINVAL (probability arg2) for arg s */
} SIM_EventType;

typedef struct {
  SIM_Time t;
  SIM_EventType type;
  double arg;
  double arg2;
  int iarg;
  char name[32];
} SIM_Event;

typedef struct {
  int index;            /* N of /dev/ptpN */
  int kvm;              /* 1 = ptp_kvm, 0 = some other PHC (e.g. a NIC) */
  char clock_name[64];
  double offset;        /* constant offset of the PHC from the host */
  int tai;              /* 1 = counts TAI: the offset follows host leap seconds */
} SIM_PhcDef;

typedef struct {
  char name[128];
  unsigned long long seed;
  double duration;
  double grid, fine_grid, fine_window;
  long long epoch;
  double guest_offset, guest_freq_ppm, guest_wander_ppm;
  double host_offset, host_freq_ppm, host_wander_ppm;
  int tsc_mode;
  double read_cost;
  double hc_out, hc_back, hc_jitter, spike_prob, spike_min, spike_max;
  double precise_noise;
  double sys_ts_noise;  /* Gaussian noise of each system timestamp in SYS_OFFSET */
  double phc_ts_noise;  /* Gaussian noise of each PHC timestamp in SYS_OFFSET */
  int kernel_pre50;     /* guest kernel < 5.0: old ptp_chardev.c behaviour */
  int persistent_rtc;   /* suspend: persistent clock is the CMOS RTC (1 s) */
  double migrate_freeze; /* kvm-clock migration: guest clock frozen for this */
  double ntp_delay;     /* NTP server: base one-way network delay (s) */
  double ntp_jitter;    /* mean of the exponential queueing delay per way (s) */
  double ntp_asym;      /* extra delay of the way back (s), invisible to clients */
  double ntp_offset;    /* server clock - host clock (s) */
  double pace;
  int n_phcs;
  SIM_PhcDef phcs[SIM_MAX_PHCS];
  int n_events;
  SIM_Event events[SIM_MAX_EVENTS];
} SIM_Scenario;

/* sim_scenario.c */
extern void SIM_ScenarioDefaults(SIM_Scenario *sc);
extern void SIM_ScenarioLoad(SIM_Scenario *sc, const char *path);

/* sim_model.c */
extern SIM_Scenario SIM_sc;
extern void SIM_Fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
extern void SIM_Init(const char *dir);
extern int SIM_IsActive(void);
extern SIM_Time SIM_Now(void);
extern int SIM_Ended(void);
extern void SIM_AdvanceTrue(SIM_Time dt);
extern int SIM_AdvanceMono(SIM_Time dmono);
extern int SIM_AdvanceUntilClock(clockid_t clk, SIM_Time target_abs);
extern void SIM_CheckEnd(void);
extern int SIM_ReadClock(clockid_t clk, struct timespec *ts);
extern SIM_Time SIM_GuestRealtime(void);
extern SIM_Time SIM_GuestMonoRaw(void);
extern SIM_Time SIM_Host(void);
extern int SIM_Adjtimex(struct timex *txc);
extern int SIM_SetRealtime(const struct timespec *ts);
extern int SIM_TscMode(void);
extern int SIM_WindowActive(SIM_EventType type, double *arg2);
extern double SIM_RandUniform(int stream);
extern double SIM_RandGauss(int stream);
extern void SIM_RandBytes(int stream, void *buf, size_t len);
extern void SIM_CountHypercall(void);
extern unsigned long long SIM_Hypercalls(void);
extern void SIM_LogEvent(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern void SIM_Flush(void);
extern void SIM_ToTimespec(SIM_Time v, struct timespec *ts);
extern SIM_Time SIM_MonoNow(void);
extern const char *SIM_QueryDue(void);
extern void SIM_QueryFinished(void);
extern void SIM_WakeAt(SIM_Time t);
extern SIM_Time SIM_FromTimespec(const struct timespec *ts);
extern int SIM_HostLeaps(void);
extern void SIM_LogExit(void);

/* Call sites of pr_err_ratelimited() in ptp_kvm (each has its own
   ratelimit state) */
#define SIM_KLOG_OFFSET 0       /* "clock offset hypercall ret" (gettime) */
#define SIM_KLOG_PAIRING 1      /* "clock pairing hypercall ret" (PRECISE) */
#define SIM_KLOG_SITES 2

/* Random streams (independent, so that e.g. PHC noise draws never change
   the clock trajectory) */
#define SIM_RNG_GUEST 0
#define SIM_RNG_HOST 1
#define SIM_RNG_PHC 2
#define SIM_RNG_FAULT 3
#define SIM_RNG_PROCESS 4       /* getrandom() of the simulated process */
#define SIM_RNG_NET 5           /* network delays to the NTP server */
#define SIM_RNG_STREAMS 6

/* sim_guestlog.c */
extern void SIM_KernelLog(int site);
extern void SIM_CountFailedIoctl(void);
extern void SIM_CountBasicIoctl(void);
extern void SIM_ReadOutcome(int ok);
extern void SIM_OutageEnded(void);
extern void SIM_LogCounts(void);
extern const char *SIM_CountsText(void);

/* sim_ntp.c */
/* Put the NTP server's due answers on the wire; returns how many, and
   sets the model's wake time to the next one */
extern int SIM_NtpDeliver(void);

/* sim_phc.c */
extern void SIM_PhcInit(const char *dir);
extern void SIM_PhcUpdatePresence(void);
extern const char *SIM_PhcMapPath(const char *path, char *buf, size_t len);
extern int SIM_PhcPathIndex(const char *path);
extern int SIM_PhcOpen(const char *path, int *fd);
extern int SIM_PhcIsFake(int fd);
extern int SIM_PhcFdSlot(int fd);
extern void SIM_PhcClose(int fd);
extern int SIM_PhcIoctl(int fd, unsigned long req, void *arg);
extern int SIM_PhcGettime(int fd, struct timespec *ts);
extern void SIM_PhcFakeStat(int index, void *st, int is64);
extern void SIM_SeccompLoaded(unsigned int default_action);
extern void SIM_SeccompInitAction(unsigned int action);
extern unsigned int SIM_SeccompInitActionValue(void);
extern void SIM_SeccompIoctlRule(unsigned int action, long long nr);

/* sim_query.c: a wait's check of the real descriptors (returns what
   select/poll return) and serving a due query while virtual time is held */
typedef int (*SIM_Probe)(void *ctx, const struct timespec *real_timeout);
extern int SIM_QueryServe(SIM_Probe probe, void *ctx);

/* sim_interpose.c: pointers to the real libc functions */
extern int (*SIM_real_open)(const char *, int, ...);
extern int (*SIM_real_close)(int);
extern int (*SIM_real_clock_gettime)(clockid_t, struct timespec *);
/* sim_interpose.c: is this call from the simulated process (initialised,
   not a forked child)? */
extern int SIM_Routed(void);

#endif
