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

  The clock model and virtual time.  True time t advances only when the
  simulated process waits (or pays a fixed cost per clock read or
  hypercall).  The host clock H(t) has an offset, optional frequency error,
  random-walk wander and scheduled steps.  The guest counter runs at
  (1 + guest_freq + wander) and is frozen while the VM is paused in
  kvm-clock mode (it runs on in tsc mode).  Guest MONOTONIC and REALTIME
  follow the counter scaled by the Linux NTP rate (tick and frequency as
  set by adjtimex()).  The model is piecewise linear between boundaries
  (1 s wander steps, scenario events, truth-grid points), so it is exact
  and does not depend on how often the process reads the clocks.  The
  ground truth (guest REALTIME - H(t) on a fixed true-time grid, plus
  events) is written to the truth log, the only source of metrics.
  */

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"

SIM_Scenario SIM_sc;

/* Linux NTP constants (kernel/time/ntp.c, include/linux/timex.h) */
#define USER_HZ 100
#define NOMINAL_TICK 10000
#define MAXFREQ_SCALED (500LL << 16)
#define NTP_PHASE_LIMIT (500000L << 5)
#define MAXERROR_GROWTH 500      /* us per second */
#define NO_LEAP 1e30L            /* ntp_next_leap_sec = TIME64_MAX */
#define SECS_PER_DAY 86400

/* Kinds of a stopped guest */
#define STOP_PAUSE 0             /* QEMU stop/cont */
#define STOP_SUSPEND 1           /* guest suspend-to-RAM */
#define STOP_MIGRATE 2           /* migration or snapshot restore */


typedef struct {
  SIM_Time t;
  int ev;
  int end;                       /* 1 = end of a window */
} Action;

static struct {
  int active;
  SIM_Time t;                    /* true time since start */
  SIM_Time raw;                  /* guest MONOTONIC_RAW */
  SIM_Time mono;                 /* guest MONOTONIC */
  SIM_Time rt;                   /* guest REALTIME - epoch */
  SIM_Time host;                 /* host REALTIME - epoch */
  double gfreq;                  /* guest counter fractional frequency error */
  double hfreq;                  /* host clock fractional frequency error */
  int paused;
  int stop_kind;                 /* STOP_* of the current stop */
  SIM_Time pause_end;
  SIM_Time freeze_from;          /* guest clocks frozen from here to pause_end */
  SIM_Time boot_off;             /* BOOTTIME - MONOTONIC (slept time) */
  SIM_Time suspend_time;         /* timekeeping_suspend_time (persistent clock) */
  SIM_Time old_delta;            /* timekeeping_suspend()'s static old_delta */
  int host_leaps;                /* leap seconds inserted (+) / deleted (-) by the host */
  const char *query;            /* due query (name), NULL if none */
  SIM_Time wake;                 /* true time of the NTP server's next
                                    answer, < 0 if none */
  int tsc_mode;
  /* kernel NTP state */
  long tick;
  long long freq;
  int status;
  long maxerror, esterror, constant, tai;
  int time_state;                /* TIME_OK, TIME_INS, ... (kernel/time/ntp.c) */
  SIM_Time next_leap;            /* ntp_next_leap_sec, guest REALTIME - epoch */
  SIM_Time oop_until;            /* end of TIME_OOP */
  SIM_Time maxerror_set;         /* guest REALTIME of the last maxerror set */
  double k;                      /* NTP rate multiplier */
  /* schedule */
  SIM_Time next_wander, next_grid, fine_until;
  int n_actions, next_action;
  Action actions[2 * SIM_MAX_EVENTS];
  int ended;
  unsigned long long hypercalls;
  FILE *truth;
  uint64_t rng[SIM_RNG_STREAMS][4];
} S;

/* ================================================== */

void
SIM_Fatal(const char *fmt, ...)
{
  va_list ap;
  char buf[512];

  va_start(ap, fmt);
  vsnprintf(buf, sizeof (buf), fmt, ap);
  va_end(ap);
  fprintf(stderr, "SIM FATAL: %s\n", buf);
  if (S.truth) {
    fprintf(S.truth, "E %.9Lf fatal msg=\"%s\"\n", S.t, buf);
    fflush(S.truth);
  }
  abort();
}

/* ================================================== */
/* xoshiro256** seeded by splitmix64, one generator per stream */

static uint64_t
splitmix64(uint64_t *x)
{
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t
rotl(uint64_t x, int k)
{
  return (x << k) | (x >> (64 - k));
}

static uint64_t
next_u64(int stream)
{
  uint64_t *s = S.rng[stream], r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return r;
}

double
SIM_RandUniform(int stream)
{
  return (next_u64(stream) >> 11) * 0x1.0p-53;
}

void
SIM_RandBytes(int stream, void *buf, size_t len)
{
  unsigned char *b = buf;
  uint64_t r = 0;
  size_t i;

  for (i = 0; i < len; i++) {
    if (i % 8 == 0)
      r = next_u64(stream);
    b[i] = r >> (8 * (i % 8));
  }
}

double
SIM_RandGauss(int stream)
{
  double u1, u2;

  do {
    u1 = SIM_RandUniform(stream);
  } while (u1 <= 0.0);
  u2 = SIM_RandUniform(stream);
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static void
seed_rng(unsigned long long seed)
{
  uint64_t x;
  int i, j;

  for (i = 0; i < SIM_RNG_STREAMS; i++) {
    x = seed * 0x100000001b3ULL + i * 0x632be59bd9b4e019ULL;
    for (j = 0; j < 4; j++)
      S.rng[i][j] = splitmix64(&x);
  }
}

/* ================================================== */

void
SIM_LogEvent(const char *fmt, ...)
{
  va_list ap;

  if (!S.truth || S.ended > 1)
    return;
  fprintf(S.truth, "E %.9Lf ", S.t);
  va_start(ap, fmt);
  vfprintf(S.truth, fmt, ap);
  va_end(ap);
  fputc('\n', S.truth);
}

void
SIM_Flush(void)
{
  if (S.truth)
    fflush(S.truth);
}

/* ================================================== */

static void
update_rate(void)
{
  S.k = (double)S.tick * USER_HZ / 1.0e6 + (double)S.freq / 65536.0e6;
}

/* ================================================== */

static void
fine_from_now(void)
{
  if (S.t + SIM_sc.fine_window > S.fine_until)
    S.fine_until = S.t + SIM_sc.fine_window;
  if (S.next_grid > S.t + SIM_sc.fine_grid)
    S.next_grid = S.t + SIM_sc.fine_grid;
}

/* ================================================== */

static int
compare_actions(const void *a, const void *b)
{
  const Action *x = a, *y = b;

  if (x->t != y->t)
    return x->t < y->t ? -1 : 1;
  if (x->end != y->end)
    return y->end - x->end;      /* window ends before starts at one time */
  return x->ev - y->ev;
}

static void
build_actions(void)
{
  SIM_Event *ev;
  int i;

  S.n_actions = 0;
  for (i = 0; i < SIM_sc.n_events; i++) {
    ev = &SIM_sc.events[i];
    S.actions[S.n_actions++] = (Action){ev->t, i, 0};
    if (ev->type == SIM_EV_HOSTFAIL || ev->type == SIM_EV_GONE ||
        ev->type == SIM_EV_EINTR || ev->type == SIM_EV_GARBAGE ||
        ev->type == SIM_EV_PRECISE_EINVAL)
      S.actions[S.n_actions++] = (Action){ev->t + ev->arg, i, 1};
  }
  qsort(S.actions, S.n_actions, sizeof (Action), compare_actions);
}

/* ================================================== */

/* The persistent clock read by timekeeping_suspend()/_resume()
   (read_persistent_clock64): in a KVM guest kvmclock's kvm_get_wallclock(),
   the host's REALTIME to the ns; the CMOS RTC counts whole seconds */
static SIM_Time
persistent_clock(void)
{
  return SIM_sc.persistent_rtc ? floorl(S.host) : S.host;
}

/* timekeeping_suspend(): remember the persistent clock, compensating it so
   that the difference between the system time and the persistent clock
   stays constant over repeated suspends unless it changed by >= 2 s */
static void
timekeeping_suspend(void)
{
  SIM_Time delta, delta_delta;

  S.suspend_time = persistent_clock();
  delta = S.rt - S.suspend_time;
  delta_delta = delta - S.old_delta;
  if (fabsl(floorl(delta_delta)) >= 2.0L)
    S.old_delta = delta;
  else
    S.suspend_time += delta_delta;
}

/* timekeeping_resume(): REALTIME and BOOTTIME step forward by the sleep
   time the persistent clock saw; MONOTONIC and MONOTONIC_RAW do not */
static SIM_Time
timekeeping_resume(void)
{
  SIM_Time now = persistent_clock(), d;

  if (now <= S.suspend_time)
    return 0.0L;
  d = now - S.suspend_time;
  S.rt += d;
  S.boot_off += d;
  return d;
}

static void
start_stop(int kind, SIM_Event *ev)
{
  static const char *names[] = {"pause", "suspend", "migrate"};
  double freeze = ev->arg;

  if (S.paused)
    SIM_Fatal("overlapping pauses at t=%.3Lf", S.t);
  S.paused = 1;
  S.stop_kind = kind;
  S.pause_end = S.t + ev->arg;
  /* QEMU's kvmclock_pre_save() re-reads the clock of a running guest just
     before the device state is sent: with kvm-clock the guest clock runs
     through the memory transfer and is frozen only for the rest */
  if (kind == STOP_MIGRATE && !S.tsc_mode && SIM_sc.migrate_freeze < freeze)
    freeze = SIM_sc.migrate_freeze;
  S.freeze_from = S.pause_end - freeze;
  if (kind == STOP_SUSPEND)
    timekeeping_suspend();
  SIM_LogEvent("pause duration=%.9f mode=%s cause=%s hypercalls=%llu", ev->arg,
               S.tsc_mode ? "tsc" : "kvm-clock", names[kind], S.hypercalls);
}

static void
end_stop(void)
{
  SIM_Time injected = 0.0L;

  S.paused = 0;
  if (S.stop_kind == STOP_SUSPEND)
    injected = timekeeping_resume();
  SIM_LogEvent("resume err=%.12Lf hypercalls=%llu injected=%.9Lf", S.rt - S.host,
               S.hypercalls, injected);
  fine_from_now();
}

static void
ntp_clear(void);

static void
do_action(Action *a)
{
  SIM_Event *ev = &SIM_sc.events[a->ev];

  switch (ev->type) {
    case SIM_EV_PAUSE:
      start_stop(STOP_PAUSE, ev);
      break;
    case SIM_EV_SUSPEND:
      start_stop(STOP_SUSPEND, ev);
      break;
    case SIM_EV_MIGRATE:
      start_stop(STOP_MIGRATE, ev);
      break;
    case SIM_EV_GUEST_STEP:
      /* settimeofday() by another program (date -s, hwclock --hctosys,
         an agent): do_settimeofday64() clears the NTP state */
      S.rt += ev->arg;
      ntp_clear();
      SIM_LogEvent("external_step size=%.9f", ev->arg);
      fine_from_now();
      break;
    case SIM_EV_HOST_LEAP:
      /* the host kernel repeats 23:59:59 (insert) or skips it (delete) */
      S.host -= ev->iarg;
      S.host_leaps += ev->iarg;
      SIM_LogEvent("host_leap leap=%d", ev->iarg);
      fine_from_now();
      break;
    case SIM_EV_HOST_STEP:
      S.host += ev->arg;
      SIM_LogEvent("host_step size=%.9f", ev->arg);
      fine_from_now();
      break;
    case SIM_EV_CLOCKSOURCE:
      S.tsc_mode = ev->iarg;
      SIM_LogEvent("clocksource mode=%s", S.tsc_mode ? "tsc" : "kvm-clock");
      fine_from_now();
      break;
    case SIM_EV_GONE:
      SIM_LogEvent("%s kind=%s duration=%.9f", a->end ? "window_end" : "window_start",
                   ev->name, ev->arg);
      SIM_PhcUpdatePresence();
      if (a->end)
        SIM_OutageEnded();
      break;
    case SIM_EV_HOSTFAIL:
    case SIM_EV_EINTR:
    case SIM_EV_GARBAGE:
    case SIM_EV_PRECISE_EINVAL:
      SIM_LogEvent("%s kind=%s duration=%.9f p=%.6f", a->end ? "window_end" : "window_start",
                   ev->name, ev->arg, ev->arg2);
      if (a->end && ev->type == SIM_EV_HOSTFAIL)
        SIM_OutageEnded();
      break;
    case SIM_EV_MARK:
      SIM_LogEvent("mark name=%s", ev->name);
      break;
    case SIM_EV_QUERY:
      if (S.query)
        SIM_Fatal("query %s while query %s is due at t=%.3Lf", ev->name, S.query, S.t);
      S.query = ev->name;
      break;
  }
}

/* ================================================== */

static int
frozen(void)
{
  if (!S.paused)
    return 0;
  switch (S.stop_kind) {
    case STOP_SUSPEND:
      return 1;
    case STOP_MIGRATE:
      return S.t >= S.freeze_from;
    default:
      return !S.tsc_mode;
  }
}

/* Rate of guest REALTIME per true second while running */
static SIM_Time
rt_rate(void)
{
  return (1.0L + S.gfreq) * S.k;
}

/* True time at which guest REALTIME reaches the pending leap second */
static SIM_Time
leap_boundary(void)
{
  if ((S.time_state != TIME_INS && S.time_state != TIME_DEL) || S.next_leap >= NO_LEAP ||
      frozen())
    return 1e30L;
  return S.t + (S.next_leap - S.rt) / rt_rate();
}

static SIM_Time
next_boundary(void)
{
  SIM_Time b = S.next_wander;

  if (S.next_grid < b)
    b = S.next_grid;
  if (S.next_action < S.n_actions && S.actions[S.next_action].t < b)
    b = S.actions[S.next_action].t;
  if (S.wake > S.t && S.wake < b)
    b = S.wake;
  if (S.paused && S.pause_end < b)
    b = S.pause_end;
  if (S.paused && S.t < S.freeze_from && S.freeze_from < b)
    b = S.freeze_from;
  if (leap_boundary() > S.t && leap_boundary() < b)
    b = leap_boundary();
  return b;
}

static void
step(SIM_Time dt)
{
  SIM_Time d;

  if (dt <= 0.0)
    return;
  S.host += dt * (1.0L + S.hfreq);
  if (!frozen()) {
    d = dt * (1.0L + S.gfreq);
    S.raw += d;
    S.mono += d * S.k;
    S.rt += d * S.k;
  }
  S.t += dt;
}

static void
log_grid(void)
{
  if (!S.truth || S.ended)
    return;
  fprintf(S.truth, "G %.6Lf %.12Lf %llu%s\n", S.t, S.rt - S.host, S.hypercalls,
          S.paused ? " P" : "");
  SIM_LogCounts();
}

/* second_overflow() at the pending leap second: insertion repeats
   23:59:59 (REALTIME back by 1 s), deletion skips it; MONOTONIC goes on,
   the TAI offset changes by the leap */
static void
apply_leap(void)
{
  if (leap_boundary() > S.t + 1e-12L)
    return;
  if (S.time_state == TIME_INS) {
    S.rt -= 1.0L;
    S.tai += 1;
    S.time_state = TIME_OOP;
    S.oop_until = S.next_leap;
    SIM_LogEvent("guest_leap leap=1");
  } else {
    S.rt += 1.0L;
    S.tai -= 1;
    S.time_state = TIME_WAIT;
    SIM_LogEvent("guest_leap leap=-1");
  }
  S.next_leap = NO_LEAP;
  fine_from_now();
}

static void
process_boundaries(void)
{
  SIM_Time g;

  while (S.t >= S.next_wander) {
    S.gfreq += SIM_sc.guest_wander_ppm * 1e-6 * SIM_RandGauss(SIM_RNG_GUEST);
    S.hfreq += SIM_sc.host_wander_ppm * 1e-6 * SIM_RandGauss(SIM_RNG_HOST);
    S.next_wander += 1.0;
  }
  while (S.next_action < S.n_actions && S.actions[S.next_action].t <= S.t)
    do_action(&S.actions[S.next_action++]);
  if (S.paused && S.t >= S.pause_end)
    end_stop();
  if (S.time_state == TIME_INS || S.time_state == TIME_DEL)
    apply_leap();
  if (S.paused && S.t >= S.next_grid) {
    /* No grid lines while the VM is stopped (the pause and resume events
       give the interval): a pause of days costs nothing in the log */
    S.next_grid = S.pause_end;
  } else if (S.t >= S.next_grid) {
    log_grid();
    g = S.t < S.fine_until ? SIM_sc.fine_grid : SIM_sc.grid;
    /* Stay on the regular grid outside fine windows */
    if (g == SIM_sc.grid)
      S.next_grid = (floorl(S.t / g + 1e-9) + 1.0L) * g;
    else
      S.next_grid = S.t + g;
  }
}

/* Advance true time to t_target (no end check).  A paused VM executes
   nothing: if the target falls into a pause, the process continues at the
   resume (in kvm-clock mode the guest clocks are frozen meanwhile, in tsc
   mode they run on). */
static void
advance_to(SIM_Time target)
{
  SIM_Time b;

  while (S.t < target || S.paused) {
    b = next_boundary();
    if (b > target && !S.paused)
      b = target;
    step(b - S.t);
    S.t = b;
    process_boundaries();
  }
}

/* ================================================== */

void
SIM_AdvanceTrue(SIM_Time dt)
{
  advance_to(S.t + dt);
}

/* ================================================== */

int
SIM_Ended(void)
{
  return S.ended;
}

SIM_Time
SIM_Now(void)
{
  return S.t;
}

int
SIM_IsActive(void)
{
  return S.active;
}

/* ================================================== */

static void
mark_ended(void)
{
  if (S.ended)
    return;
  log_grid();
  SIM_LogEvent("end hypercalls=%llu guest_freq_ppm=%.6f %s", S.hypercalls, S.gfreq * 1e6,
               SIM_CountsText());
  S.ended = 1;
  SIM_Flush();
}

/* ================================================== */

SIM_Time
SIM_MonoNow(void)
{
  return S.mono;
}

const char *
SIM_QueryDue(void)
{
  return S.query;
}

void
SIM_QueryFinished(void)
{
  S.query = NULL;
}

void
SIM_WakeAt(SIM_Time t)
{
  S.wake = t;
}

/* ================================================== */

/* Advance until guest MONOTONIC has moved by dmono, or the scenario ends,
   or a query is due or the wake time is reached (the caller serves them
   and waits for the rest).
   Returns 1 if the scenario end was reached. */
int
SIM_AdvanceMono(SIM_Time dmono)
{
  SIM_Time target = S.mono + dmono, b, rate, hit;

  if (S.ended) {
    advance_to(S.t + 1e-6);
    return 1;
  }
  while (S.mono < target) {
    b = next_boundary();
    if (b > SIM_sc.duration)
      b = SIM_sc.duration;
    if (!frozen()) {
      rate = rt_rate();
      hit = S.t + (target - S.mono) / rate;
      if (hit <= b) {
        advance_to(hit);
        if (S.mono < target)
          S.mono = target;       /* rounding of the last ulp */
        break;
      }
    }
    if (b <= S.t && S.t >= SIM_sc.duration) {
      mark_ended();
      return 1;
    }
    advance_to(b);
    if (S.query || (S.wake >= 0.0L && S.t >= S.wake))
      break;
  }
  if (S.t >= SIM_sc.duration) {
    mark_ended();
    return 1;
  }
  return 0;
}

/* ================================================== */

int
SIM_AdvanceUntilClock(clockid_t clk, SIM_Time target)
{
  SIM_Time now;
  int i;

  for (i = 0; i < 1000; i++) {
    switch (clk) {
      case CLOCK_REALTIME:
        now = S.rt + SIM_sc.epoch;
        break;
      case CLOCK_MONOTONIC:
        now = S.mono;
        break;
      case CLOCK_BOOTTIME:
        now = S.mono + S.boot_off;
        break;
      default:
        SIM_Fatal("absolute sleep on clock %d not modelled", (int)clk);
    }
    if (now >= target)
      return 0;
    if (SIM_AdvanceMono(target - now))
      return 1;
  }
  return 0;
}

/* ================================================== */

void
SIM_CheckEnd(void)
{
  if (!S.ended && S.t >= SIM_sc.duration)
    mark_ended();
}

/* ================================================== */

void
SIM_ToTimespec(SIM_Time v, struct timespec *ts)
{
  SIM_Time s = floorl(v);
  long ns = (long)((v - s) * 1e9L);

  if (ns >= 1000000000L) {
    ns -= 1000000000L;
    s += 1.0L;
  }
  ts->tv_sec = (time_t)s;
  ts->tv_nsec = ns;
}

SIM_Time
SIM_FromTimespec(const struct timespec *ts)
{
  return (SIM_Time)ts->tv_sec + ts->tv_nsec * 1e-9L;
}

/* ================================================== */

SIM_Time
SIM_GuestRealtime(void)
{
  return S.rt;
}

SIM_Time
SIM_GuestMonoRaw(void)
{
  return S.raw;
}

SIM_Time
SIM_Host(void)
{
  return S.host;
}

int
SIM_TscMode(void)
{
  return S.tsc_mode;
}

void
SIM_CountHypercall(void)
{
  S.hypercalls++;
}

void
SIM_LogExit(void)
{
  SIM_LogEvent("exit hypercalls=%llu %s", S.hypercalls, SIM_CountsText());
}

int
SIM_HostLeaps(void)
{
  return S.host_leaps;
}


unsigned long long
SIM_Hypercalls(void)
{
  return S.hypercalls;
}

/* ================================================== */

int
SIM_WindowActive(SIM_EventType type, double *arg2)
{
  SIM_Event *ev;
  int i;

  for (i = 0; i < SIM_sc.n_events; i++) {
    ev = &SIM_sc.events[i];
    if (ev->type == type && S.t >= ev->t && S.t < ev->t + ev->arg) {
      if (arg2)
        *arg2 = ev->arg2;
      return 1;
    }
  }
  return 0;
}

/* ================================================== */
/* Clock reads: each costs read_cost of true time */

int
SIM_ReadClock(clockid_t clk, struct timespec *ts)
{
  SIM_Time v;

  /* Virtual time is held from a due query until it is answered, so that
     the answer reflects exactly the state at that moment */
  if (!S.query)
    advance_to(S.t + SIM_sc.read_cost);

  switch (clk) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
      v = S.rt;
      SIM_ToTimespec(v, ts);
      ts->tv_sec += SIM_sc.epoch;
      return 0;
    case CLOCK_TAI:
      v = S.rt + S.tai;
      SIM_ToTimespec(v, ts);
      ts->tv_sec += SIM_sc.epoch;
      return 0;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_COARSE:
      SIM_ToTimespec(S.mono, ts);
      return 0;
    case CLOCK_BOOTTIME:
      SIM_ToTimespec(S.mono + S.boot_off, ts);
      return 0;
    case CLOCK_MONOTONIC_RAW:
      SIM_ToTimespec(S.raw, ts);
      return 0;
    default:
      SIM_Fatal("clock_gettime(%d) not modelled", (int)clk);
  }
}

/* ================================================== */
/* The kernel's ntp_clear() after a clock step */

static void
ntp_clear(void)
{
  S.status |= STA_UNSYNC;
  S.maxerror = NTP_PHASE_LIMIT;
  S.esterror = NTP_PHASE_LIMIT;
  S.maxerror_set = S.rt;
  S.next_leap = NO_LEAP;        /* a step cancels a pending leap second */
}

/* The leap-second state machine of second_overflow(), evaluated when the
   status changes or is read (the transitions of a second boundary that
   matter are applied at their exact time by apply_leap()) */
static void
update_time_state(void)
{
  SIM_Time secs = floorl(S.rt) + SIM_sc.epoch + 1.0L, rem;

  switch (S.time_state) {
    case TIME_OK:
      if (S.status & STA_INS) {
        S.time_state = TIME_INS;
        rem = fmodl(secs, SECS_PER_DAY);
        S.next_leap = secs + SECS_PER_DAY - rem - SIM_sc.epoch;
      } else if (S.status & STA_DEL) {
        S.time_state = TIME_DEL;
        rem = fmodl(secs + 1.0L, SECS_PER_DAY);
        S.next_leap = secs + SECS_PER_DAY - rem - SIM_sc.epoch;
      }
      break;
    case TIME_INS:
      if (!(S.status & STA_INS)) {
        S.time_state = TIME_OK;
        S.next_leap = NO_LEAP;
      }
      break;
    case TIME_DEL:
      if (!(S.status & STA_DEL)) {
        S.time_state = TIME_OK;
        S.next_leap = NO_LEAP;
      }
      break;
    case TIME_OOP:
      if (S.rt >= S.oop_until)
        S.time_state = TIME_WAIT;
      break;
    case TIME_WAIT:
      if (!(S.status & (STA_INS | STA_DEL)))
        S.time_state = TIME_OK;
      break;
  }
}

static long
current_maxerror(void)
{
  SIM_Time secs = floorl(S.rt) - floorl(S.maxerror_set);
  long long m;

  if (secs < 0)
    secs = 0;
  m = S.maxerror + (long long)secs * MAXERROR_GROWTH;
  return m > NTP_PHASE_LIMIT ? NTP_PHASE_LIMIT : m;
}

static void
log_step(SIM_Time off, const char *how)
{
  SIM_LogEvent("step size=%.9Lf via=%s", off, how);
  fine_from_now();
}

/* ================================================== */
/* adjtimex()/ntp_adjtime()/clock_adjtime(CLOCK_REALTIME) with the Linux
   semantics chronyd relies on (kernel/time/ntp.c, timekeeping.c).  Modes
   that are not modelled abort. */

int
SIM_Adjtimex(struct timex *txc)
{
  unsigned int m = txc->modes, known;
  long old_tick = S.tick, old_maxerr, old_esterr;
  long long old_freq = S.freq;
  int old_status = S.status;
  SIM_Time off;

  known = ADJ_OFFSET | ADJ_FREQUENCY | ADJ_MAXERROR | ADJ_ESTERROR | ADJ_STATUS |
          ADJ_TIMECONST | ADJ_TAI | ADJ_SETOFFSET | ADJ_MICRO | ADJ_NANO | ADJ_TICK |
          ADJ_OFFSET_SINGLESHOT | ADJ_OFFSET_SS_READ;
  if (m & ~known)
    SIM_Fatal("adjtimex modes 0x%x not modelled", m);

  old_maxerr = current_maxerror();
  old_esterr = S.esterror;

  /* timekeeping_validate_timex() */
  if (m & 0x8000) {              /* ADJ_ADJTIME: adjtime() emulation */
    if (m != ADJ_OFFSET_SINGLESHOT && m != ADJ_OFFSET_SS_READ) {
      errno = EINVAL;
      return -1;
    }
    if (m == ADJ_OFFSET_SINGLESHOT && txc->offset != 0)
      SIM_Fatal("adjtime() offset %ld not modelled", txc->offset);
    goto out;
  }
  if (m & ADJ_TICK) {
    if (txc->tick < 900000 / USER_HZ || txc->tick > 1100000 / USER_HZ) {
      errno = EINVAL;
      return -1;
    }
  }
  if (m & ADJ_SETOFFSET) {
    if (txc->time.tv_usec < 0 ||
        txc->time.tv_usec >= ((m & ADJ_NANO) ? 1000000000L : 1000000L)) {
      errno = EINVAL;
      return -1;
    }
    off = txc->time.tv_sec + txc->time.tv_usec * ((m & ADJ_NANO) ? 1e-9L : 1e-6L);
    S.rt += off;
    ntp_clear();
    log_step(off, "adjtimex");
  }

  /* process_adjtimex_modes() */
  if (m & ADJ_STATUS) {
    if ((S.status & STA_PLL) && !(txc->status & STA_PLL)) {
      S.status = STA_UNSYNC | (S.status & STA_NANO);
      S.time_state = TIME_OK;
      S.next_leap = NO_LEAP;
    }
    S.status &= STA_RONLY;
    S.status |= txc->status & ~STA_RONLY;
    if ((S.status & (STA_INS | STA_DEL)) == (STA_INS | STA_DEL))
      SIM_Fatal("STA_INS and STA_DEL together not modelled");
    if (S.status & (STA_PPSFREQ | STA_PPSTIME | STA_FLL))
      SIM_Fatal("adjtimex status 0x%x (PPS/FLL) not modelled", S.status);
  }
  if (m & ADJ_NANO)
    S.status |= STA_NANO;
  if (m & ADJ_MICRO)
    S.status &= ~STA_NANO;
  if (m & ADJ_FREQUENCY) {
    S.freq = txc->freq;
    if (S.freq > MAXFREQ_SCALED)
      S.freq = MAXFREQ_SCALED;
    if (S.freq < -MAXFREQ_SCALED)
      S.freq = -MAXFREQ_SCALED;
  }
  if (m & ADJ_MAXERROR) {
    S.maxerror = txc->maxerror < NTP_PHASE_LIMIT ? txc->maxerror : NTP_PHASE_LIMIT;
    S.maxerror_set = S.rt;
  }
  if (m & ADJ_ESTERROR)
    S.esterror = txc->esterror < NTP_PHASE_LIMIT ? txc->esterror : NTP_PHASE_LIMIT;
  if (m & ADJ_TIMECONST)
    S.constant = txc->constant;
  if (m & ADJ_TAI && txc->constant >= 0)
    S.tai = txc->constant;
  if (m & ADJ_OFFSET) {
    if (txc->offset != 0)
      SIM_Fatal("kernel PLL offset %ld not modelled", txc->offset);
  }
  if (m & ADJ_TICK)
    S.tick = txc->tick;
  update_rate();

out:
  update_time_state();
  if (S.tick != old_tick || S.freq != old_freq || S.status != old_status ||
      current_maxerror() != old_maxerr || S.esterror != old_esterr)
    SIM_LogEvent("adjtimex modes=0x%x tick=%ld freq_ppm=%.9f status=0x%x maxerror=%ld "
                 "esterror=%ld rate_ppm=%.9f state=%d", m, S.tick, S.freq / 65536.0,
                 S.status, current_maxerror(), S.esterror, (S.k - 1.0) * 1e6, S.time_state);

  txc->offset = 0;
  txc->freq = S.freq;
  txc->maxerror = current_maxerror();
  txc->esterror = S.esterror;
  txc->status = S.status;
  txc->constant = S.constant;
  txc->precision = 1;
  txc->tolerance = MAXFREQ_SCALED;
  txc->tick = S.tick;
  txc->tai = S.tai;
  txc->ppsfreq = txc->jitter = txc->stabil = 0;
  txc->shift = txc->jitcnt = txc->calcnt = txc->errcnt = txc->stbcnt = 0;
  {
    struct timespec ts;

    SIM_ToTimespec(S.rt, &ts);
    txc->time.tv_sec = ts.tv_sec + SIM_sc.epoch;
    txc->time.tv_usec = (S.status & STA_NANO) ? ts.tv_nsec : ts.tv_nsec / 1000;
  }
  return (S.status & (STA_UNSYNC | STA_CLOCKERR)) ? TIME_ERROR : S.time_state;
}

/* ================================================== */

int
SIM_SetRealtime(const struct timespec *ts)
{
  SIM_Time target = SIM_FromTimespec(ts) - SIM_sc.epoch, off = target - S.rt;

  if (ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L) {
    errno = EINVAL;
    return -1;
  }
  S.rt = target;
  ntp_clear();
  log_step(off, "settime");
  return 0;
}

/* ================================================== */

static void
write_header(void)
{
  int i;

  fprintf(S.truth, "# simtruth 1: G t_true err_s hypercalls [P=paused]; E t_true kind k=v...\n");
  fprintf(S.truth, "H scenario=%s seed=%llu duration=%.3f grid=%g fine_grid=%g fine_window=%g "
          "epoch=%lld guest_offset=%.9f guest_freq_ppm=%.6f guest_wander_ppm=%g "
          "host_offset=%.9f host_freq_ppm=%.6f host_wander_ppm=%g clocksource=%s "
          "read_cost=%g hc_out=%g hc_back=%g hc_jitter=%g spike_prob=%g spike_min=%g "
          "spike_max=%g precise_noise=%g sys_ts_noise=%g phc_ts_noise=%g kernel_pre50=%d "
          "persistent_clock=%s migrate_freeze=%g phase=%s\n",
          SIM_sc.name, SIM_sc.seed, SIM_sc.duration, SIM_sc.grid, SIM_sc.fine_grid,
          SIM_sc.fine_window, SIM_sc.epoch, SIM_sc.guest_offset, SIM_sc.guest_freq_ppm,
          SIM_sc.guest_wander_ppm, SIM_sc.host_offset, SIM_sc.host_freq_ppm,
          SIM_sc.host_wander_ppm, SIM_sc.tsc_mode ? "tsc" : "kvm-clock", SIM_sc.read_cost,
          SIM_sc.hc_out, SIM_sc.hc_back, SIM_sc.hc_jitter, SIM_sc.spike_prob,
          SIM_sc.spike_min, SIM_sc.spike_max, SIM_sc.precise_noise, SIM_sc.sys_ts_noise,
          SIM_sc.phc_ts_noise,
          SIM_sc.kernel_pre50, SIM_sc.persistent_rtc ? "rtc" : "kvm", SIM_sc.migrate_freeze,
          getenv("SIM_PHASE") ? getenv("SIM_PHASE") : "0");
  for (i = 0; i < SIM_sc.n_events; i++)
    fprintf(S.truth, "S %.9Lf %s %.9f %.9f\n", SIM_sc.events[i].t, SIM_sc.events[i].name,
            SIM_sc.events[i].arg, SIM_sc.events[i].arg2);
}

/* ================================================== */

void
SIM_Init(const char *dir)
{
  const char *path;

  SIM_ScenarioDefaults(&SIM_sc);
  SIM_ScenarioLoad(&SIM_sc, getenv("SIM_SCENARIO"));

  memset(&S, 0, sizeof (S));
  seed_rng(SIM_sc.seed);
  S.t = 0.0;
  S.raw = S.mono = 10.0;         /* the guest booted 10 s before the start */
  S.host = SIM_sc.host_offset;
  S.rt = S.host + SIM_sc.guest_offset;
  S.gfreq = SIM_sc.guest_freq_ppm * 1e-6;
  S.hfreq = SIM_sc.host_freq_ppm * 1e-6;
  S.tsc_mode = SIM_sc.tsc_mode;
  S.tick = NOMINAL_TICK;
  S.freq = 0;
  S.status = STA_UNSYNC;
  S.maxerror = S.esterror = NTP_PHASE_LIMIT;
  S.constant = 2;
  S.time_state = TIME_OK;
  S.next_leap = NO_LEAP;
  update_rate();
  S.next_wander = 1.0;
  S.next_grid = 0.0;
  S.wake = -1.0L;
  build_actions();

  path = getenv("SIM_TRUTH");
  if (path) {
    S.truth = fopen(path, "w");
    if (!S.truth)
      SIM_Fatal("cannot write truth log %s: %s", path, strerror(errno));
    setvbuf(S.truth, NULL, _IOFBF, 1 << 16);
    write_header();
  }
  S.active = 1;
  SIM_PhcInit(dir);
  process_boundaries();
}
