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

  You should have received a copy of the GNU General Public License along
  with this program; if not, write to the Free Software Foundation, Inc.,
  51 Franklin Street, Fifth Floor, Boston, MA  02110-1301, USA.

  SPDX-License-Identifier: GPL-2.0-only

  =======================================================================

  PTPKVM refclock driver: reads the host's clock through the ptp_kvm PHC
  with phc_reader, feeds one filtered sample per driver poll to chrony,
  checks between polls with cheap one-reading sentinel reads, and when
  phc_reader's jump detector confirms a jump of the offset (a paused VM
  resumed, the host clock was stepped), drops all samples as after an
  unknown step and steps the system clock at once.  It waits for a missing
  device, reopens a lost one and survives a host that cannot answer.  The
  pure decisions live in refclock_ptpkvm_policy.c.  This file is linked
  into chrony's source tree by the chrony-ptpkvm build; it is not part of
  chrony itself.
  */

#include "config.h"

#include "sysincl.h"

#include "refclock.h"

#ifdef FEAT_PTPKVM

#include "local.h"
#include "logging.h"
#include "memory.h"
#include "reference.h"
#include "sched.h"
#include "util.h"

#include "phcr.h"
#include "refclock_ptpkvm_policy.h"

#ifndef PTPKVM_CHRONY_VERSION
#error "PTPKVM_CHRONY_VERSION not defined (chrony-ptpkvm configure patch missing?)"
#endif

struct ptpkvm_instance {
  RCL_Instance rcl;
  char *spec;                   /* device path or "auto" */
  char name[PHCR_PATH_MAX + 16];/* name for log messages */
  PKP_Options opts;
  PHCR_Config config;
  PHCR_Reader reader;           /* NULL until the device was found */
  PHCR_JumpDetector detector;

  int open_failures;            /* consecutive failed open/reopen attempts */
  double next_open;             /* monotonic time of the next attempt */
  int gone;                     /* the open device went away */
  int waiting_logged;

  double interval;              /* driver poll interval (s) */
  double last_full;             /* monotonic time of the last full read */
  double last_normal;           /* ... of the last sample consistent with
                                   the detector's estimate */
  PKP_OffsetTracker offset;     /* chrony's own corrections since the
                                   detector's history started */
  int own_change;               /* inside our own flush/step */

  SCH_TimeoutID sentinel_id;
  PKP_QualityTracker quality;
  PKP_Health health;

  unsigned long steps, flushes, samples, dropped;
};

/* ================================================== */

static double
mono_time(void)
{
  struct timespec ts;

  if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
    return 0.0;
  return ts.tv_sec + 1.0e-9 * ts.tv_nsec;
}

/* ================================================== */

static const char *
get_option(void *arg, const char *name)
{
  return RCL_GetDriverOption((RCL_Instance)arg, (char *)name);
}

/* ================================================== */

static void
parse_options(struct ptpkvm_instance *pk)
{
  char err[512];

  RCL_CheckDriverOptions(pk->rcl, PKP_OptionNames());
  if (!PKP_ParseOptions(&pk->opts, get_option, pk->rcl, err, sizeof (err)))
    LOG_FATAL("%s", err);
}

/* ================================================== */

static void
make_reader_config(struct ptpkvm_instance *pk)
{
  PHCR_ConfigDefaults(&pk->config);
  pk->config.flags = (pk->opts.nocrossts ? PHCR_FLAG_NOCROSSTS : 0) |
                     (pk->opts.noextended ? PHCR_FLAG_NOEXTENDED : 0);
  pk->config.n_samples = pk->opts.samples;
  pk->config.reprobe_reads = 0;
  pk->config.reprobe_interval = pk->opts.reprobe;
}

/* ================================================== */

static PHCR_JumpDetector
create_detector(const PKP_Options *opts)
{
  PHCR_JumpConfig jc;

  PHCR_JumpConfigDefaults(&jc);
  jc.threshold = opts->jump;
  jc.confirmations = opts->confirm;
  jc.first_sample_rule = 1;
  return PHCR_JumpCreate(&jc);
}

/* ================================================== */

static void
restart_detector(struct ptpkvm_instance *pk)
{
  PHCR_JumpReset(pk->detector);
  PKP_OffsetRestart(&pk->offset);
}

/* ================================================== */
/* Follow chrony's own changes of the clock, so that the detector sees the
   offset of the host clock to the cooked time as if chrony had not
   corrected anything (a correction is not a jump of the host clock). */

static void
clock_changed(struct timespec *raw, struct timespec *cooked, double dfreq,
              double doffset, LCL_ChangeType change_type, void *anything)
{
  struct ptpkvm_instance *pk = anything;

  if (pk->own_change)
    return;

  if (PKP_OffsetClockChanged(&pk->offset, change_type == LCL_ChangeUnknownStep, doffset))
    PHCR_JumpReset(pk->detector);
}

/* ================================================== */

/* One line for a (re)opened device: which, why, after how many attempts */

static void
log_open(struct ptpkvm_instance *pk, const PHCR_Discovery *disc, int reopen)
{
  const char *path = PHCR_GetPath(pk->reader), *why = disc->why;
  const char *want = pk->opts.clockname[0] ? pk->opts.clockname : PHCR_DEFAULT_CLOCK_NAME;
  char attempts[48] = "";
  size_t len = strlen(path);
  int foreign;

  /* The reason starts with the path already named */
  if (!strncmp(why, path, len) && !strncmp(why + len, ": ", 2))
    why += len + 2;
  if (pk->open_failures > 0)
    snprintf(attempts, sizeof (attempts), ", found after %d attempts", pk->open_failures + 1);

  /* A given path may lead to another PHC (e.g. a NIC's): say it loudly */
  foreign = disc->clock_name[0] && strcmp(disc->clock_name, want);

  LOG(foreign ? LOGS_WARN : LOGS_INFO, "%s: %s %s (%s), best reading mode %s%s", pk->name,
      reopen ? "reopened" : "using", path, why,
      PHCR_ModeName(PHCR_GetBestMode(pk->reader)), attempts);
  snprintf(pk->name, sizeof (pk->name), "PTPKVM %s", path);
}

/* ================================================== */
/* Open the device, or reopen it after it went away, with backoff.
   Returns 1 if the reader is usable. */

static int
ensure_device(struct ptpkvm_instance *pk, double now)
{
  PHCR_Discovery disc;
  PHCR_Error err;

  if (pk->reader && !pk->gone)
    return 1;
  if (pk->open_failures > 0 && now < pk->next_open)
    return 0;

  memset(&disc, 0, sizeof (disc));
  if (!pk->reader)
    err = PHCR_Open(NULL, pk->spec, pk->opts.clockname, &pk->config, &pk->reader, &disc);
  else
    err = PHCR_Reopen(pk->reader, &disc);

  if (err == PHCR_OK) {
    log_open(pk, &disc, pk->gone);
    pk->open_failures = 0;
    pk->waiting_logged = 0;
    pk->gone = 0;
    return 1;
  }

  pk->open_failures++;
  pk->next_open = now + PKP_Backoff(pk->open_failures);

  if (!pk->waiting_logged) {
    LOG(LOGS_WARN, "%s: %s (%s); source unreachable, waiting for the device",
        pk->name, PHCR_ErrorString(err), disc.error[0] ? disc.error : PHCR_ErrorName(err));
    pk->waiting_logged = 1;
  } else {
    DEBUG_LOG("%s: open attempt %d failed: %s", pk->name, pk->open_failures,
              PHCR_ErrorString(err));
  }

  return 0;
}

/* ================================================== */

static const char *
skipped_text(const PKP_Health *h)
{
  static char buf[96];

  if (!h->skipped)
    return "";
  snprintf(buf, sizeof (buf), " (%lu brief failures since the last report not logged)",
           h->skipped);
  return buf;
}

/* ================================================== */
/* Log mode changes and failures of a read (full or sentinel) */

static void
account_read(struct ptpkvm_instance *pk, PHCR_Error err, const PHCR_Result *res,
             double now)
{
  PKP_HealthEvent ev;
  PHCR_Mode better, m;
  char since[64] = "";

  if (err == PHCR_OK && res->prev_mode == PHCR_MODE_NONE) {
    /* First successful read: if a better mode failed, say why (the open
       line named the best mode) */
    better = PHCR_MODE_NONE;
    for (m = res->mode + 1; m < PHCR_MODE_COUNT; m++) {
      if (res->attempt[m].attempts > 0 && res->attempt[m].error != PHCR_OK)
        better = m;
    }
    if (better != PHCR_MODE_NONE && PHCR_GetBestMode(pk->reader) > res->mode &&
        pk->opts.reprobe > 0.0)
      LOG(LOGS_INFO, "%s: reading in mode %s (%s: %s; tried again every %.0f s)",
          pk->name, PHCR_ModeName(res->mode), PHCR_ModeName(better),
          PHCR_ErrorString(res->attempt[better].error), pk->opts.reprobe);
    else if (better != PHCR_MODE_NONE)
      LOG(LOGS_INFO, "%s: reading in mode %s (%s: %s)", pk->name,
          PHCR_ModeName(res->mode), PHCR_ModeName(better),
          PHCR_ErrorString(res->attempt[better].error));
  } else if (err == PHCR_OK && (res->events & PHCR_EVENT_MODE_CHANGED)) {
    better = res->prev_mode > res->mode ? res->prev_mode : res->mode;
    LOG(LOGS_INFO, "%s: reading mode %s -> %s%s%s", pk->name,
        PHCR_ModeName(res->prev_mode), PHCR_ModeName(res->mode),
        res->mode < res->prev_mode ? ", " : "",
        res->mode < res->prev_mode ? PHCR_ErrorString(res->attempt[better].error) : "");
  }

  ev = PKP_HealthUpdate(&pk->health, err == PHCR_OK, now);
  if (ev == PKP_HEALTH_FAILING) {
    if (pk->health.failures > 1)
      snprintf(since, sizeof (since), " (%lu reads in %.0f s)", pk->health.failures,
               now - pk->health.since);
    LOG(LOGS_WARN, "%s: reading failed%s: %s (errno %d); source unreachable until it works%s",
        pk->name, since, PHCR_ErrorString(err), res->sys_errno, skipped_text(&pk->health));
  } else if (ev == PKP_HEALTH_RECOVERED) {
    LOG(LOGS_INFO, "%s: reading works again in mode %s after %lu failed reads in %.1f s",
        pk->name, PHCR_ModeName(res->mode), pk->health.failures, now - pk->health.since);
  }

  if (err == PHCR_ERR_GONE && !pk->gone) {
    /* Reopen at the next poll.  If the failure line was left out (a brief
       failure shortly before), the first failed reopen says it waits. */
    pk->gone = 1;
    pk->open_failures = 0;
    pk->waiting_logged = pk->health.logged;
  }
}

/* ================================================== */

static PHCR_JumpState
feed_detector(struct ptpkvm_instance *pk, const PHCR_Sample *s, double now,
              PHCR_JumpResult *jr)
{
  PHCR_JumpInput in;
  struct timespec sys;
  double correction;

  /* Offset of the host clock to the cooked time, without chrony's own
     corrections since the history started */
  sys = s->sys;
  LCL_GetOffsetCorrection(&sys, &correction, NULL);

  in.time = now;
  in.offset_ns = PKP_OffsetInput(&pk->offset, s->offset_ns, correction);
  in.error = s->error;

  return PHCR_JumpFeed(pk->detector, &in, jr);
}

/* ================================================== */

static void
act_on_jump(struct ptpkvm_instance *pk, const PHCR_JumpResult *jr,
            const PHCR_Sample *s, double now)
{
  struct timespec raw, cooked;
  double step = 0.0, latency;
  int cold = (jr->flags & PHCR_JUMPF_COLD) != 0;
  PKP_Action act;
  PKP_Reason why;
  char msg[320];

  latency = now - pk->last_normal;
  act = PKP_DecideJump(&pk->opts, jr->jump, pk->steps, REF_GetMode() == REF_ModeNormal, &why);

  if (act != PKP_ACT_IGNORE) {
    pk->own_change = 1;

    /* Everything measured before the jump is invalid: drop the samples of
       every refclock and source as after an unknown step */
    LCL_ReadRawTime(&raw);
    LCL_CookTime(&raw, &cooked, NULL);
    LCL_NotifyExternalTimeStep(&raw, &cooked, 0.0, 0.0);
    pk->flushes++;

    if (act == PKP_ACT_STEP) {
      /* The pending correction was cancelled by the notification, so the
         step is the whole offset of the last confirming reading (J plus
         the small offset chrony had not corrected yet) */
      step = (double)s->offset_ns * 1.0e-9;
      if (LCL_ApplyStepOffset(-step)) {
        pk->steps++;
      } else {
        act = PKP_ACT_FLUSH;
        why = PKP_WHY_STEP_FAILED;
      }
    }

    pk->own_change = 0;
  }

  PKP_FormatJump(msg, sizeof (msg), act, why, &pk->opts, jr->jump, step, cold, latency);
  LOG(act == PKP_ACT_STEP ? LOGS_WARN : LOGS_INFO, "%s", msg);

  restart_detector(pk);
  pk->last_normal = now;
}

/* ================================================== */
/* Take the confirming reads of a suspected jump at once.  Returns the
   final state; res and jr hold the last read. */

static PHCR_JumpState
confirm_jump(struct ptpkvm_instance *pk, PHCR_Result *res, PHCR_JumpResult *jr,
             double *now)
{
  PHCR_JumpState state = PHCR_JUMP_SUSPECT;
  PHCR_Error err;
  int i;

  for (i = 0; i < 2 * pk->opts.confirm + 2 && state == PHCR_JUMP_SUSPECT; i++) {
    *now = mono_time();
    err = PHCR_Read(pk->reader, 0, *now, res);
    account_read(pk, err, res, *now);
    if (err != PHCR_OK)
      break;
    pk->last_full = *now;
    state = feed_detector(pk, &res->sample, *now, jr);
  }

  DEBUG_LOG("%s: suspect resolved as %s after %d reads (jump %+.9f)", pk->name,
            PHCR_JumpStateName(state), i, jr->jump);
  return state;
}

/* ================================================== */

static int
add_sample(struct ptpkvm_instance *pk, PHCR_Sample *s)
{
  struct timespec sys, phc;
  int quality;

  quality = PKP_QualityAssess(&pk->quality, s->error, s->mode);
  sys = s->sys;
  phc = s->phc;

  DEBUG_LOG("%s: offset %+.9f err %.9f delay %.9f used %d/%d mode %s quality %d",
            pk->name, s->offset, s->error, s->delay, s->n_used, s->n_total,
            PHCR_ModeName(s->mode), quality);

  if (quality < 1)
    pk->dropped++;
  else
    pk->samples++;

#if PTPKVM_CHRONY_VERSION >= 40800
  return RCL_AddSample(pk->rcl, &sys, &phc, LEAP_Normal, quality);
#else
  if (quality < 1)
    return 0;
  return RCL_AddSample(pk->rcl, &sys, &phc, LEAP_Normal);
#endif
}

/* ================================================== */
/* Run a successful read through the detector; feed it to chrony if asked
   and it is consistent.  Returns what RCL_AddSample returned, or 0. */

static int
process_read(struct ptpkvm_instance *pk, PHCR_Result *res, double now, int feed)
{
  PHCR_JumpResult jr;
  PHCR_JumpState state;

  state = feed_detector(pk, &res->sample, now, &jr);

  if (state == PHCR_JUMP_SUSPECT) {
    DEBUG_LOG("%s: suspect jump %+.9f (deviation beyond %.9f)", pk->name, jr.jump, jr.margin);
    state = confirm_jump(pk, res, &jr, &now);
    /* A confirming read may have come from a different mode or failed */
    if (res->error != PHCR_OK)
      return 0;
  }

  switch (state) {
    case PHCR_JUMP_NORMAL:
      pk->last_normal = now;
      if (!feed)
        return 0;
      return add_sample(pk, &res->sample);
    case PHCR_JUMP_CONFIRMED:
      act_on_jump(pk, &jr, &res->sample, now);
      /* Outside normal mode, the reading is the new truth for chronyd */
      if (feed && REF_GetMode() != REF_ModeNormal)
        return add_sample(pk, &res->sample);
      return 0;
    default:
      return 0;
  }
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
  if (!PKP_SentinelDue(&pk->opts, pk->interval, now - pk->last_full,
                       pk->reader && !pk->gone && !pk->health.failing))
    return;

  err = PHCR_ReadSentinel(pk->reader, now, &res);
  account_read(pk, err, &res, now);
  if (err != PHCR_OK)
    return;

  process_read(pk, &res, now, 0);
}

/* ================================================== */

static int
ptpkvm_initialise(RCL_Instance instance)
{
  struct ptpkvm_instance *pk;
  char *spec, err[PHCR_ERRTEXT_MAX];

  pk = MallocNew(struct ptpkvm_instance);
  memset(pk, 0, sizeof (*pk));
  pk->rcl = instance;

  parse_options(pk);

  spec = RCL_GetDriverParameter(instance);
  if (!PHCR_CheckSpec(spec, err, sizeof (err)))
    LOG_FATAL("refclock PTPKVM: %s", err);
  pk->spec = Strdup(spec);
  snprintf(pk->name, sizeof (pk->name), "PTPKVM %s", pk->spec);

  make_reader_config(pk);
  pk->detector = create_detector(&pk->opts);
  if (!pk->detector)
    LOG_FATAL("PTPKVM: could not create the jump detector");

  PKP_QualityInit(&pk->quality);
  PKP_HealthInit(&pk->health);
  pk->interval = UTI_Log2ToDouble(RCL_GetDriverPoll(instance));
  pk->last_full = pk->last_normal = mono_time();

  RCL_SetDriverData(instance, pk);
  LCL_AddParameterChangeHandler(clock_changed, pk);

  /* A missing device is not an error: the source stays unreachable and
     the driver keeps looking for it */
  ensure_device(pk, mono_time());

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

  if (pk->reader) {
    PHCR_GetCounters(pk->reader, &c);
    LOG(LOGS_INFO, "%s: %lu reads (%lu sentinel, %lu failed), %lu device readings, "
        "%lu samples (%lu dropped), %lu steps, %lu flushes", pk->name, c.reads,
        c.sentinel_reads, c.failed_reads, c.device_samples, pk->samples, pk->dropped,
        pk->steps, pk->flushes);
    PHCR_Close(pk->reader);
  }

  PHCR_JumpDestroy(pk->detector);
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
  double now;

  now = mono_time();
  if (!ensure_device(pk, now))
    return 0;

  err = PHCR_Read(pk->reader, 0, now, &res);
  account_read(pk, err, &res, now);
  if (err != PHCR_OK)
    return 0;

  pk->last_full = now;
  return process_read(pk, &res, now, 1);
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
