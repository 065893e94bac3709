/*
  chrony-ptpkvm -- the PTPKVM reference clock driver for chronyd

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

  PTPKVM refclock driver: reads the host's clock through the ptp_kvm PHC
  with phc_reader, feeds one filtered sample per driver poll to chrony,
  checks between polls with cheap one-reading sentinel reads, and when a
  jump of the offset is confirmed (a paused VM resumed, the host clock was
  stepped, another program stepped the guest clock), drops all samples as
  after an unknown step and steps the system clock at once, to where the
  source with its generic options says the time is.  It waits for a
  missing device, reopens a lost one and backs off while the host cannot
  answer.  What to do with each reading is decided in
  refclock_ptpkvm_decide.c, the options are parsed by
  refclock_ptpkvm_opts.c.  This file is linked into chrony's source tree
  by the chrony-ptpkvm build; it is not part of chrony itself.
  */

#include "config.h"

#include "sysincl.h"

#include "refclock.h"

#ifdef FEAT_PTPKVM

#include "conf.h"
#include "local.h"
#include "logging.h"
#include "memory.h"
#include "reference.h"
#include "sched.h"
#include "util.h"

#include "phcr.h"
#include "refclock_ptpkvm.h"

struct ptpkvm_instance {
  RCL_Instance rcl;
  char *spec;                   /* device path or "auto" */
  char name[PHCR_PATH_MAX + 16];/* name for log messages */
  PKP_Options opts;
  PHCR_Reader reader;           /* NULL until the device was found */
  dev_t dev_rdev;               /* device number of the device, or 0 */
  int gone;                     /* the open device went away */
  int ignored;                  /* another line reads the device */
  int line;                     /* 1 for the first PTPKVM line, ... */
  PKD_State decide;

  int failures;                 /* consecutive failed opens, or reads */
  double next_try;              /* with failures: monotonic time of the next */
  PKD_Health health;            /* of the reads, for the log */
  int transient_fallback;       /* the last mode change was a transient
                                   fallback */

  double interval;              /* driver poll interval (s) */
  double last_full;             /* monotonic time of the last full read */
  SCH_TimeoutID sentinel_id;

  struct ptpkvm_instance *next; /* list of all PTPKVM instances */

  PKS_Status status;            /* for monitoring (docs/monitoring.md) */
  char *status_path;            /* NULL: no status file */
  int status_error;             /* the last write failed */
  double status_due;            /* monotonic time of the next routine write */
};

/* All PTPKVM instances, to find two on one device (chronyd finalises its
   refclocks only at exit: none leaves the list before) */
static struct ptpkvm_instance *instances;

/* Status file: written at once when something happens, else at most
   once in this interval (s) */
#define STATUS_INTERVAL 60.0

/* ================================================== */

static double
mono_time(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1.0e-9 * ts.tv_nsec;
}

/* ================================================== */

static const char *
get_option(void *arg, const char *name)
{
  return RCL_GetDriverOption((RCL_Instance)arg, (char *)name);
}

/* ================================================== */

/* Follow chrony's own changes of the clock (the decision loop keeps the
   offset it watches free of them) and steps not made by this driver */

static void
clock_changed(struct timespec *raw, struct timespec *cooked, double dfreq,
              double doffset, LCL_ChangeType change_type, void *anything)
{
  struct ptpkvm_instance *pk = anything;

  PKD_ClockChanged(&pk->decide, change_type == LCL_ChangeStep ? PKD_CHANGE_STEP :
                   change_type == LCL_ChangeUnknownStep ? PKD_CHANGE_UNKNOWN_STEP :
                   PKD_CHANGE_ADJUST, doffset);
}

/* ================================================== */

/* Two sources reading one clock are not independent: a line whose device
   (its device number, whatever the path) another line reads already is
   ignored */

static int
check_duplicate(struct ptpkvm_instance *pk, const PHCR_Discovery *disc)
{
  struct ptpkvm_instance *o;

  for (o = instances; o; o = o->next) {
    if (o == pk || !o->reader || o->ignored || o->dev_rdev != disc->rdev || !disc->rdev)
      continue;
    LOG(LOGS_WARN, "refclock PTPKVM %s (PTPKVM line %d): %s is the device of refclock "
        "PTPKVM %s (PTPKVM line %d), %s; line %d ignored (use one refclock PTPKVM line per "
        "device)", pk->spec, pk->line, disc->path, o->spec, o->line, PHCR_GetPath(o->reader),
        pk->line);
    PHCR_Close(pk->reader);
    pk->reader = NULL;
    pk->ignored = 1;
    return 0;
  }
  return 1;
}

/* ================================================== */

/* One line for a (re)opened device: which, why, after how many attempts */

static void
log_open(struct ptpkvm_instance *pk, const PHCR_Discovery *disc, int reopen)
{
  const char *want = pk->opts.clockname[0] ? pk->opts.clockname : PHCR_DEFAULT_CLOCK_NAME;
  char attempts[48] = "";
  int foreign;

  if (pk->failures > 0)
    snprintf(attempts, sizeof (attempts), ", found after %d attempts", pk->failures + 1);

  /* A given path may lead to another PHC (e.g. a NIC's): say it loudly */
  foreign = disc->clock_name[0] && strcmp(disc->clock_name, want);

  /* disc->why starts with the path */
  LOG(foreign ? LOGS_WARN : LOGS_INFO, "%s: %s %s, best reading mode %s%s", pk->name,
      reopen ? "reopened" : "using", disc->why,
      PHCR_ModeName(PHCR_GetBestMode(pk->reader)), attempts);
  snprintf(pk->name, sizeof (pk->name), "PTPKVM %s", disc->path);
  pk->dev_rdev = disc->rdev;
}

/* ================================================== */
/* Open the device, or reopen it after it went away, with backoff.
   Returns 1 if the reader is usable. */

static int
ensure_device(struct ptpkvm_instance *pk, double now)
{
  PHCR_Discovery disc;
  PHCR_Config config;
  PHCR_Error err;

  if (pk->ignored)
    return 0;
  if (pk->reader && !pk->gone)
    return 1;
  PKD_ReadFailed(&pk->decide);
  if (pk->failures > 0 && now < pk->next_try)
    return 0;

  memset(&disc, 0, sizeof (disc));
  if (!pk->reader) {
    config.flags = (pk->opts.nocrossts ? PHCR_FLAG_NOCROSSTS : 0) |
                   (pk->opts.noextended ? PHCR_FLAG_NOEXTENDED : 0);
    config.n_samples = pk->opts.samples;
    config.reprobe_interval = pk->opts.reprobe;
    err = PHCR_Open(pk->spec, pk->opts.clockname, &config, &pk->reader, &disc);
  } else {
    err = PHCR_Reopen(pk->reader, &disc);
  }

  if (err == PHCR_OK) {
    if (!check_duplicate(pk, &disc))
      return 0;
    log_open(pk, &disc, pk->gone);
    pk->failures = 0;
    pk->gone = 0;
    return 1;
  }

  pk->failures++;
  pk->next_try = now + PKD_Backoff(pk->failures, PKD_OPEN_DELAY, PKD_OPEN_DELAY_MAX);

  /* The first failure says it waits, unless the failed read said so */
  if (pk->failures == 1 && !(pk->gone && pk->health.logged))
    LOG(LOGS_WARN, "%s: %s%s%s; source unreachable, waiting for the device", pk->name,
        PHCR_ErrorString(err), disc.error[0] ? ": " : "", disc.error);
  else
    DEBUG_LOG("%s: open attempt %d failed: %s", pk->name, pk->failures,
              PHCR_ErrorString(err));

  return 0;
}

/* ================================================== */
/* A change of the reading mode, and at the first read a better mode that
   failed.  A fallback for a transient error of the better mode (retried at
   the next read) and the return from it are not news. */

static void
log_mode(struct ptpkvm_instance *pk, const PHCR_Result *res)
{
  PHCR_Mode better = PHCR_MODE_NONE, m;
  PHCR_Error why;
  char again[48] = "";
  int transient;

  for (m = res->mode + 1; m < PHCR_MODE_COUNT; m++) {
    if (res->attempt[m].attempts > 0 && res->attempt[m].error != PHCR_OK)
      better = m;
  }
  why = res->attempt[better].error;
  transient = better != PHCR_MODE_NONE ? why == PHCR_ERR_RETRY : pk->transient_fallback;
  pk->transient_fallback = better != PHCR_MODE_NONE && why == PHCR_ERR_RETRY;
  if (transient || (res->prev_mode == PHCR_MODE_NONE && better == PHCR_MODE_NONE))
    return;

  if (better != PHCR_MODE_NONE && PHCR_GetBestMode(pk->reader) > res->mode &&
      pk->opts.reprobe > 0.0)
    snprintf(again, sizeof (again), "; tried again every %.0f s", pk->opts.reprobe);
  LOG(LOGS_INFO, "%s: reading mode %s -> %s%s%s%s", pk->name, PHCR_ModeName(res->prev_mode),
      PHCR_ModeName(res->mode), better != PHCR_MODE_NONE ? ", " : "",
      better != PHCR_MODE_NONE ? PHCR_ErrorString(why) : "", again);
}

/* ================================================== */
/* Log mode changes and failures of a read, and count failures for the
   retry backoff */

static void
account_read(struct ptpkvm_instance *pk, PHCR_Error err, const PHCR_Result *res,
             double now)
{
  PKD_HealthEvent ev;
  char since[64] = "", errno_text[32] = "";

  if (err == PHCR_OK && res->mode != res->prev_mode)
    log_mode(pk, res);

  ev = PKD_HealthUpdate(&pk->health, err == PHCR_OK, now);
  if (ev == PKD_HEALTH_FAILING) {
    if (pk->health.failures > 1)
      snprintf(since, sizeof (since), " (%lu reads in %.0f s)", pk->health.failures,
               now - pk->health.since);
    if (res->sys_errno)
      snprintf(errno_text, sizeof (errno_text), " (errno %d)", res->sys_errno);
    LOG(LOGS_WARN, "%s: reading failed%s: %s%s; source unreachable until it works",
        pk->name, since, PHCR_ErrorString(err), errno_text);
  } else if (ev == PKD_HEALTH_RECOVERED) {
    LOG(LOGS_INFO, "%s: reading works again in mode %s after %lu failed reads in %.1f s",
        pk->name, PHCR_ModeName(res->mode), pk->health.failures, now - pk->health.since);
  }

  if (err == PHCR_OK) {
    pk->failures = 0;
    return;
  }

  PKD_ReadFailed(&pk->decide);
  pk->failures++;
  pk->next_try = now + PKD_Backoff(pk->failures, PKD_READ_DELAY, PKD_READ_DELAY_MAX);

  /* Reopen at the next poll */
  if (err == PHCR_ERR_GONE && !pk->gone) {
    pk->gone = 1;
    pk->failures = 0;
  }
}

/* ================================================== */
/* The reading as the decision loop needs it */

static void
make_input(struct ptpkvm_instance *pk, PHCR_Sample *s, int full, double now,
           PKD_Input *in)
{
  struct timespec sys = s->sys, phc = s->phc, mono, rt, boot;
  double raw_offset = UTI_DiffTimespecsToDouble(&phc, &sys), offset;

  memset(in, 0, sizeof (*in));
  in->offset_ns = s->offset_ns;
  in->error = s->error;
  in->mode = s->mode;
  in->full = full;
  in->now = now;
  in->normal_mode = REF_GetMode() == REF_ModeNormal;
  LCL_GetOffsetCorrection(&sys, &in->correction, NULL);

  /* Where the source says the time is, with chronyd's generic options */
  if (RCL_GetDriverStepOffset(pk->rcl, &sys, &phc, &offset, &in->may_step))
    in->options_offset = offset - raw_offset;
  else
    in->may_step = 0;

  /* Who moved the clock: REALTIME and BOOTTIME against MONOTONIC (steps
     move only REALTIME, a suspend moves REALTIME and BOOTTIME) */
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_BOOTTIME, &boot);
  in->rt_mono = UTI_DiffTimespecsToDouble(&rt, &mono);
  in->boot_mono = UTI_DiffTimespecsToDouble(&boot, &mono);
}

/* ================================================== */

static void
log_jump(struct ptpkvm_instance *pk, const PKD_Verdict *v, int stepped)
{
  int flushed = v->action == PKS_ACTION_FLUSH || v->action == PKS_ACTION_STEP;
  char when[64];

  if (v->cause == PKS_CAUSE_COLD_START)
    snprintf(when, sizeof (when), "at the first reading");
  else if (v->gap > 0.0)
    snprintf(when, sizeof (when), "first reading after %.1f s without readings", v->gap);
  else
    snprintf(when, sizeof (when), "detected within %.2f s of running time", v->latency);

  if (stepped)
    LOG(LOGS_WARN, "System clock was stepped by %.6f seconds (%s: %s, %s)", v->step,
        pk->name, PKS_CauseTexts[v->cause], when);
  else
    LOG(flushed ? LOGS_WARN : LOGS_INFO,
        "%s: offset to the host clock changed by %+.6f seconds (%s, %s); %s%s", pk->name,
        v->jump, PKS_CauseTexts[v->cause], when, flushed ? "samples dropped, " : "",
        v->action == PKS_ACTION_STEP ? "could not step the clock, slewing" : v->why);
}

/* ================================================== */
/* Write the status file when something happened (news, or a change of the
   device, a reading mode or failing), else at most once a minute (mono:
   the monotonic time of the event, read once by its caller) */

static void
write_status(struct ptpkvm_instance *pk, int news, double mono)
{
  PHCR_Mode mode = PHCR_MODE_NONE, best = PHCR_MODE_NONE;
  struct timespec now;
  PHCR_Counters c;
  int r;

  if (!pk->status_path)
    return;

  memset(&c, 0, sizeof (c));
  if (pk->reader) {
    PHCR_GetCounters(pk->reader, &c);
    mode = PHCR_GetMode(pk->reader);
    best = PHCR_GetBestMode(pk->reader);
  }
  pk->status.counters.reads = c.reads;
  pk->status.counters.read_failures = c.failed_reads;
  LCL_ReadCookedTime(&now, NULL);
  news |= PKS_SetState(&pk->status, pk->reader ? PHCR_GetPath(pk->reader) : pk->spec,
                       PHCR_ModeName(mode), PHCR_ModeName(best), pk->health.failing, &now);

  if (!news && mono < pk->status_due)
    return;
  pk->status_due = mono + STATUS_INTERVAL;

  r = PKS_Write(&pk->status, pk->status_path);
  if (r < 0 && !pk->status_error)
    LOG(LOGS_WARN, "%s: could not write %s: %s", pk->name, pk->status_path, strerror(-r));
  pk->status_error = r < 0;
}

/* ================================================== */
/* Execute the verdict on a confirmed jump */

static void
act_on_jump(struct ptpkvm_instance *pk, const PKD_Verdict *v, double now)
{
  struct timespec raw, cooked;
  PKS_Action action = PKS_ACTION_NONE;
  int stepped = 0;

  if (v->action == PKS_ACTION_FLUSH || v->action == PKS_ACTION_STEP) {
    /* Everything measured before the jump is invalid: drop the samples of
       every refclock and source as after an unknown step */
    LCL_ReadRawTime(&raw);
    LCL_CookTime(&raw, &cooked, NULL);
    LCL_NotifyExternalTimeStep(&raw, &cooked, 0.0, 0.0);
    pk->status.counters.flushes++;
    action = PKS_ACTION_FLUSH;

    if (v->action == PKS_ACTION_STEP && LCL_ApplyStepOffset(-v->step)) {
      stepped = 1;
      pk->status.counters.steps++;
      action = PKS_ACTION_STEP;
    }
    RCL_RequestBurst(pk->rcl, PKD_BURST_POLLS, PKD_BURST_INTERVAL);
  }

  log_jump(pk, v, stepped);
  LCL_ReadCookedTime(&cooked, NULL);
  PKS_AddDisruption(&pk->status, &cooked, v->jump, v->cause, v->latency, action);
  write_status(pk, 1, now);
}

/* ================================================== */

static int
add_sample(struct ptpkvm_instance *pk, PHCR_Sample *s, int quality)
{
  struct timespec sys = s->sys, phc = s->phc;

  DEBUG_LOG("%s: offset %+.9f err %.9f delay %.9f used %d/%d mode %s quality %d",
            pk->name, s->offset, s->error, s->delay, s->n_used, s->n_total,
            PHCR_ModeName(s->mode), quality);

  if (quality >= 1)
    pk->status.counters.samples++;

  /* The sample's error bound is its dispersion in chronyd */
  RCL_SetSampleError(pk->rcl, s->error);

#if PTPKVM_CHRONY_VERSION >= 40800
  return RCL_AddSample(pk->rcl, &sys, &phc, LEAP_Normal, quality);
#else
  if (quality < 1)
    return 0;
  return RCL_AddSample(pk->rcl, &sys, &phc, LEAP_Normal);
#endif
}

/* ================================================== */
/* Judge a successful read, with the confirming reads of a suspected jump
   taken at once; feed it to chrony if it is a full read and the decision
   loop says so.  Returns what RCL_AddSample returned, or 0. */

static int
process_read(struct ptpkvm_instance *pk, PHCR_Result *res, double now, int full)
{
  PKD_Verdict v;
  PKD_Input in;
  PHCR_Error err;
  int i;

  for (i = 0; ; i++) {
    make_input(pk, &res->sample, full, now, &in);
    PKD_Process(&pk->decide, &in, &v);
    if (v.action != PKS_ACTION_CONFIRM || i >= 2 * pk->opts.confirm + 2)
      break;

    DEBUG_LOG("%s: suspect jump %+.9f, confirming", pk->name, v.jump);
    now = mono_time();
    err = PHCR_Read(pk->reader, 0, now, res);
    account_read(pk, err, res, now);
    if (err != PHCR_OK)
      return 0;
    pk->last_full = now;
  }

  if (v.jumped)
    act_on_jump(pk, &v, now);

  return v.action == PKS_ACTION_ADD ? add_sample(pk, &res->sample, v.quality) : 0;
}

/* ================================================== */

static void
sentinel_timeout(void *arg)
{
  struct ptpkvm_instance *pk = arg;
  PHCR_Result res;
  PHCR_Error err;
  double now;

  pk->sentinel_id = SCH_AddTimeoutByDelay(pk->opts.sentinel, sentinel_timeout, pk);

  now = mono_time();
  if (!PKD_SentinelDue(&pk->opts, pk->interval, now - pk->last_full,
                       pk->reader && !pk->gone && pk->failures == 0))
    return;

  err = PHCR_ReadOne(pk->reader, 0, now, &res);
  /* Its one triplet rejected by validation (and again on the retries) is
     timestamp noise of a device that works, not a failure: the next full
     read, with more triplets, decides */
  if (err == PHCR_ERR_INVALID) {
    DEBUG_LOG("%s: sentinel reading rejected, skipped", pk->name);
    return;
  }
  account_read(pk, err, &res, now);
  if (err != PHCR_OK)
    return;

  process_read(pk, &res, now, 0);
}

/* ================================================== */

static int
ptpkvm_initialise(RCL_Instance instance)
{
  static int lines = 0;
  struct ptpkvm_instance *pk;
  char *spec, text[512];         /* a message, then the status file's path */
  double now;

  pk = MallocNew(struct ptpkvm_instance);
  memset(pk, 0, sizeof (*pk));
  pk->rcl = instance;
  pk->line = ++lines;

  RCL_CheckDriverOptions(instance, PKP_OptionNames());
  if (!PKP_ParseOptions(&pk->opts, get_option, instance, text, sizeof (text)))
    LOG_FATAL("%s", text);

  spec = RCL_GetDriverParameter(instance);
  if (!PHCR_CheckSpec(spec, text, sizeof (text)))
    LOG_FATAL("refclock PTPKVM: %s", text);
  pk->spec = Strdup(spec);
  snprintf(pk->name, sizeof (pk->name), "PTPKVM %s", pk->spec);

  now = mono_time();
  PKD_Init(&pk->decide, &pk->opts, now);
  pk->interval = UTI_Log2ToDouble(RCL_GetDriverPoll(instance));
  pk->last_full = now;

  RCL_SetDriverData(instance, pk);
  LCL_AddParameterChangeHandler(clock_changed, pk);

  /* The status file lives next to chronyd's command socket: chronyd
     creates that directory (the run directory) writable for its -u user */
  PKS_Init(&pk->status, (long)getpid(), pk->spec);
  if (PKS_MakePath(text, sizeof (text), CNF_GetBindCommandPath(), pk->line - 1))
    pk->status_path = Strdup(text);
  pk->next = instances;
  instances = pk;

  /* A missing device is not an error: the source stays unreachable and
     the driver keeps looking for it */
  ensure_device(pk, now);
  write_status(pk, 1, now);

  if (pk->opts.sentinel > 0.0)
    pk->sentinel_id = SCH_AddTimeoutByDelay(pk->opts.sentinel, sentinel_timeout, pk);

  return 1;
}

/* ================================================== */

static void
ptpkvm_finalise(RCL_Instance instance)
{
  struct ptpkvm_instance *pk = RCL_GetDriverData(instance);
  PHCR_Counters c;

  if (pk->sentinel_id)
    SCH_RemoveTimeout(pk->sentinel_id);
  LCL_RemoveParameterChangeHandler(clock_changed, pk);
  pk->status.running = 0;
  write_status(pk, 1, mono_time());

  if (pk->reader) {
    PHCR_GetCounters(pk->reader, &c);
    LOG(LOGS_INFO, "%s: %lu reads (%lu sentinel, %lu failed), %lu samples, %lu steps, "
        "%lu flushes", pk->name, c.reads, c.sentinel_reads, c.failed_reads,
        pk->status.counters.samples, pk->status.counters.steps, pk->status.counters.flushes);
    PHCR_Close(pk->reader);
  }

  Free(pk->status_path);
  Free(pk->spec);
  Free(pk);
}

/* ================================================== */

static int
ptpkvm_poll(RCL_Instance instance)
{
  struct ptpkvm_instance *pk = RCL_GetDriverData(instance);
  PHCR_Result res;
  PHCR_Error err;
  double now = mono_time();
  int full, r = 0;

  /* While reads fail, try again after a growing delay with a single-ioctl
     probe: every failed hypercall makes the guest kernel log a line */
  if (ensure_device(pk, now) && !(pk->failures > 0 && now < pk->next_try)) {
    full = pk->failures == 0;
    err = full ? PHCR_Read(pk->reader, 0, now, &res) : PHCR_ReadOne(pk->reader, 1, now, &res);
    account_read(pk, err, &res, now);
    if (err == PHCR_OK) {
      pk->last_full = now;
      /* Sentinels run on the full reads' grid (full read + k x sentinel),
         so that they never leave a longer gap than their interval before
         a full read, also after a burst moved the polls */
      if (pk->sentinel_id) {
        SCH_RemoveTimeout(pk->sentinel_id);
        pk->sentinel_id = SCH_AddTimeoutByDelay(pk->opts.sentinel, sentinel_timeout, pk);
      }
      r = process_read(pk, &res, now, full);
    }
  }

  write_status(pk, 0, now);
  return r;
}

/* ================================================== */

RefclockDriver RCL_PTPKVM_driver = {
  ptpkvm_initialise,
  ptpkvm_finalise,
  ptpkvm_poll
};

#else

RefclockDriver RCL_PTPKVM_driver = { NULL, NULL, NULL };

#endif
