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

  Scenario files: default model parameters and the parser of the
  line-oriented scenario format (`key value...` settings and
  `at TIME EVENT args...` events, `#` comments).  Unknown keys are fatal so
  that a typo never silently runs a different scenario.  The environment
  variable SIM_PHASE shifts every event (used by the runner to sweep the
  phase of a pause within chronyd's poll cycle); SIM_SEED overrides the
  seed.  The format is documented in docs/simulator.md.
  */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define SECS_PER_DAY_S 86400LL

/* ================================================== */

void
SIM_ScenarioDefaults(SIM_Scenario *sc)
{
  memset(sc, 0, sizeof (*sc));
  snprintf(sc->name, sizeof (sc->name), "default");
  sc->seed = 1;
  sc->duration = 600.0;
  sc->grid = 0.01;
  sc->fine_grid = 0.001;
  sc->fine_window = 2.0;
  sc->epoch = 1790000000LL;
  sc->guest_offset = 0.010;
  sc->guest_freq_ppm = 37.0;
  sc->guest_wander_ppm = 0.001;
  sc->host_offset = 0.0;
  sc->host_freq_ppm = 0.0;
  sc->host_wander_ppm = 0.0;
  sc->tsc_mode = 0;
  sc->read_cost = 25e-9;
  sc->hc_out = 0.8e-6;
  sc->hc_back = 0.5e-6;
  sc->hc_jitter = 0.1e-6;
  sc->spike_prob = 0.003;
  sc->spike_min = 50e-6;
  sc->spike_max = 500e-6;
  sc->precise_noise = 20e-9;
  sc->sys_ts_noise = 0.0;
  /* a server on the local network: 0.5 ms round trip, 0.1 ms of queueing */
  sc->ntp_delay = 200e-6;
  sc->ntp_jitter = 50e-6;
  sc->ntp_asym = 0.0;
  sc->ntp_offset = 0.0;
  sc->kernel_pre50 = 0;
  sc->persistent_rtc = 0;
  /* QEMU hw/i386/kvm/clock.c, kvmclock_pre_save(): reading the clock just
     before the device state is sent "reduces kvmclock difference on
     migration from 5s to 0.1s" */
  sc->migrate_freeze = 0.1;
  sc->pace = 0.0;
  sc->n_phcs = 1;
  sc->phcs[0].index = 0;
  sc->phcs[0].kvm = 1;
  snprintf(sc->phcs[0].clock_name, sizeof (sc->phcs[0].clock_name), "KVM virtual PTP");
}

/* ================================================== */

static double
parse_num(const char *s, const char *path, int line)
{
  char *end;
  double v;

  if (!s)
    SIM_Fatal("%s:%d: missing number", path, line);
  errno = 0;
  v = strtod(s, &end);
  if (errno || *end || end == s)
    SIM_Fatal("%s:%d: bad number '%s'", path, line, s);
  return v;
}

/* ================================================== */

static void
parse_event(SIM_Scenario *sc, char **tok, int n, const char *path, int line, double phase)
{
  SIM_Event *ev;

  if (n < 3)
    SIM_Fatal("%s:%d: 'at TIME EVENT ...' expected", path, line);
  if (sc->n_events >= SIM_MAX_EVENTS)
    SIM_Fatal("%s:%d: too many events", path, line);

  ev = &sc->events[sc->n_events++];
  memset(ev, 0, sizeof (*ev));
  ev->t = parse_num(tok[1], path, line) + phase;
  snprintf(ev->name, sizeof (ev->name), "%s", tok[2]);

  if (!strcmp(tok[2], "pause") && n == 4) {
    ev->type = SIM_EV_PAUSE;
    ev->arg = parse_num(tok[3], path, line);
  } else if (!strcmp(tok[2], "host_step") && n == 4) {
    ev->type = SIM_EV_HOST_STEP;
    ev->arg = parse_num(tok[3], path, line);
  } else if (!strcmp(tok[2], "clocksource") && n == 4) {
    ev->type = SIM_EV_CLOCKSOURCE;
    if (!strcmp(tok[3], "tsc"))
      ev->iarg = 1;
    else if (!strcmp(tok[3], "kvm-clock"))
      ev->iarg = 0;
    else
      SIM_Fatal("%s:%d: clocksource tsc|kvm-clock", path, line);
  } else if (!strcmp(tok[2], "hostfail") && n == 4) {
    ev->type = SIM_EV_HOSTFAIL;
    ev->arg = parse_num(tok[3], path, line);
  } else if (!strcmp(tok[2], "gone") && n == 4) {
    ev->type = SIM_EV_GONE;
    ev->arg = parse_num(tok[3], path, line);
  } else if (!strcmp(tok[2], "eintr") && n == 5) {
    ev->type = SIM_EV_EINTR;
    ev->arg = parse_num(tok[3], path, line);
    ev->arg2 = parse_num(tok[4], path, line);
  } else if (!strcmp(tok[2], "garbage") && n == 5) {
    ev->type = SIM_EV_GARBAGE;
    ev->arg = parse_num(tok[3], path, line);
    ev->arg2 = parse_num(tok[4], path, line);
  } else if (!strcmp(tok[2], "mark") && n == 4) {
    ev->type = SIM_EV_MARK;
    snprintf(ev->name, sizeof (ev->name), "%s", tok[3]);
  } else if (!strcmp(tok[2], "guest_step") && n == 4) {
    ev->type = SIM_EV_GUEST_STEP;
    ev->arg = parse_num(tok[3], path, line);
  } else if (!strcmp(tok[2], "suspend") && n == 4) {
    ev->type = SIM_EV_SUSPEND;
    ev->arg = parse_num(tok[3], path, line);
  } else if (!strcmp(tok[2], "migrate") && n == 4) {
    ev->type = SIM_EV_MIGRATE;
    ev->arg = parse_num(tok[3], path, line);
  } else if (!strcmp(tok[2], "host_leap") && n == 4) {
    ev->type = SIM_EV_HOST_LEAP;
    ev->iarg = (int)parse_num(tok[3], path, line);
    if (ev->iarg != 1 && ev->iarg != -1)
      SIM_Fatal("%s:%d: host_leap +1|-1", path, line);
  } else if (!strcmp(tok[2], "precise_einval") && n == 5) {
    ev->type = SIM_EV_PRECISE_EINVAL;
    ev->arg = parse_num(tok[3], path, line);
    ev->arg2 = parse_num(tok[4], path, line);
  } else if (!strcmp(tok[2], "query") && n == 4) {
    ev->type = SIM_EV_QUERY;
    snprintf(ev->name, sizeof (ev->name), "%s", tok[3]);
  } else {
    SIM_Fatal("%s:%d: unknown event or wrong arguments: %s", path, line, tok[2]);
  }

  if (ev->t < 0.0)
    SIM_Fatal("%s:%d: negative event time", path, line);
}

/* ================================================== */

static void
parse_phc(SIM_Scenario *sc, char **tok, int n, char *rest, const char *path, int line)
{
  SIM_PhcDef *p;
  static int phcs_given = 0;

  if (n < 5)
    SIM_Fatal("%s:%d: 'phc INDEX kvm|other OFFSET CLOCK NAME' expected", path, line);
  if (!phcs_given) {
    sc->n_phcs = 0;
    phcs_given = 1;
  }
  if (sc->n_phcs >= SIM_MAX_PHCS)
    SIM_Fatal("%s:%d: too many PHCs", path, line);
  p = &sc->phcs[sc->n_phcs++];
  p->index = parse_num(tok[1], path, line);
  if (!strcmp(tok[2], "kvm")) {
    p->kvm = 1;
  } else if (!strcmp(tok[2], "kvm-tai")) {
    p->kvm = 1;
    p->tai = 1;
  } else if (!strcmp(tok[2], "other")) {
    p->kvm = 0;
  } else {
    SIM_Fatal("%s:%d: PHC kind must be kvm, kvm-tai or other", path, line);
  }
  p->offset = parse_num(tok[3], path, line);
  snprintf(p->clock_name, sizeof (p->clock_name), "%s", rest);
}

/* ================================================== */

/* A host leap second is inserted at a UTC midnight (23:59:59 repeated) and
   deleted at 23:59:59 UTC (kernel/time/ntp.c, second_overflow()) */
static void
check_leaps(SIM_Scenario *sc)
{
  long long when, want;
  int i;

  for (i = 0; i < sc->n_events; i++) {
    if (sc->events[i].type != SIM_EV_HOST_LEAP)
      continue;
    when = sc->epoch + (long long)sc->events[i].t;
    want = sc->events[i].iarg > 0 ? 0 : SECS_PER_DAY_S - 1;
    if ((double)(long long)sc->events[i].t != sc->events[i].t ||
        ((when % SECS_PER_DAY_S) + SECS_PER_DAY_S) % SECS_PER_DAY_S != want)
      SIM_Fatal("host_leap at %.3f is not at %s UTC (epoch %lld)", (double)sc->events[i].t,
                sc->events[i].iarg > 0 ? "midnight" : "23:59:59", sc->epoch);
  }
}

/* ================================================== */

struct param {
  const char *key;
  double *dst;
};

void
SIM_ScenarioLoad(SIM_Scenario *sc, const char *path)
{
  struct param params[] = {
    {"duration", &sc->duration}, {"grid", &sc->grid}, {"fine_grid", &sc->fine_grid},
    {"fine_window", &sc->fine_window}, {"guest_offset", &sc->guest_offset},
    {"guest_freq_ppm", &sc->guest_freq_ppm}, {"guest_wander_ppm", &sc->guest_wander_ppm},
    {"host_offset", &sc->host_offset}, {"host_freq_ppm", &sc->host_freq_ppm},
    {"host_wander_ppm", &sc->host_wander_ppm}, {"read_cost", &sc->read_cost},
    {"hc_out", &sc->hc_out}, {"hc_back", &sc->hc_back}, {"hc_jitter", &sc->hc_jitter},
    {"spike_prob", &sc->spike_prob}, {"spike_min", &sc->spike_min},
    {"spike_max", &sc->spike_max}, {"precise_noise", &sc->precise_noise},
    {"sys_ts_noise", &sc->sys_ts_noise}, {"phc_ts_noise", &sc->phc_ts_noise}, {"migrate_freeze", &sc->migrate_freeze},
    {"ntp_delay", &sc->ntp_delay}, {"ntp_jitter", &sc->ntp_jitter},
    {"ntp_asym", &sc->ntp_asym}, {"ntp_offset", &sc->ntp_offset},
    {"pace", &sc->pace}, {NULL, NULL}
  };
  char buf[512], *tok[16], *p, *rest[16];
  double phase = 0.0;
  int line = 0, n, i;
  FILE *f;

  if (getenv("SIM_PHASE"))
    phase = parse_num(getenv("SIM_PHASE"), "SIM_PHASE", 0);

  if (path) {
    f = fopen(path, "r");
    if (!f)
      SIM_Fatal("cannot open scenario %s: %s", path, strerror(errno));
    while (fgets(buf, sizeof (buf), f)) {
      line++;
      if ((p = strchr(buf, '#')))
        *p = '\0';
      buf[strcspn(buf, "\r\n")] = '\0';
      for (n = 0, p = buf; n < 16; ) {
        p += strspn(p, " \t");
        if (!*p)
          break;
        rest[n] = p;
        tok[n++] = p;
        p += strcspn(p, " \t");
        if (*p)
          *p++ = '\0';
      }
      if (n == 0)
        continue;
      /* Restore the spaces of the remainder for clock names */
      if (!strcmp(tok[0], "phc") && n >= 5) {
        for (i = 5; i < n; i++)
          tok[i][-1] = ' ';
        parse_phc(sc, tok, 5, rest[4], path, line);
        continue;
      }
      if (!strcmp(tok[0], "at")) {
        parse_event(sc, tok, n, path, line, phase);
        continue;
      }
      if (!strcmp(tok[0], "name") && n == 2) {
        snprintf(sc->name, sizeof (sc->name), "%s", tok[1]);
        continue;
      }
      if (!strcmp(tok[0], "seed") && n == 2) {
        sc->seed = strtoull(tok[1], NULL, 0);
        continue;
      }
      if (!strcmp(tok[0], "epoch") && n == 2) {
        sc->epoch = strtoll(tok[1], NULL, 0);
        continue;
      }
      if (!strcmp(tok[0], "kernel_pre50") && n == 2) {
        sc->kernel_pre50 = parse_num(tok[1], path, line) != 0.0;
        continue;
      }
      if (!strcmp(tok[0], "persistent_clock") && n == 2) {
        if (strcmp(tok[1], "kvm") && strcmp(tok[1], "rtc"))
          SIM_Fatal("%s:%d: persistent_clock kvm|rtc", path, line);
        sc->persistent_rtc = !strcmp(tok[1], "rtc");
        continue;
      }
      if (!strcmp(tok[0], "clocksource") && n == 2) {
        if (strcmp(tok[1], "tsc") && strcmp(tok[1], "kvm-clock"))
          SIM_Fatal("%s:%d: clocksource tsc|kvm-clock", path, line);
        sc->tsc_mode = !strcmp(tok[1], "tsc");
        continue;
      }
      /* Directives for the runner and report tool, ignored here */
      if (!strcmp(tok[0], "sweep") || !strcmp(tok[0], "window") ||
          !strcmp(tok[0], "description") || !strcmp(tok[0], "recovery") ||
          !strcmp(tok[0], "configs"))
        continue;
      for (i = 0; params[i].key; i++) {
        if (!strcmp(tok[0], params[i].key))
          break;
      }
      if (!params[i].key || n != 2)
        SIM_Fatal("%s:%d: unknown setting or wrong arguments: %s", path, line, tok[0]);
      *params[i].dst = parse_num(tok[1], path, line);
    }
    fclose(f);
  }

  if (getenv("SIM_SEED"))
    sc->seed = strtoull(getenv("SIM_SEED"), NULL, 0);
  if (getenv("SIM_PACE"))
    sc->pace = parse_num(getenv("SIM_PACE"), "SIM_PACE", 0);
  if (getenv("SIM_DURATION"))
    sc->duration = parse_num(getenv("SIM_DURATION"), "SIM_DURATION", 0);

  if (sc->grid <= 0.0 || sc->fine_grid <= 0.0 || sc->duration <= 0.0)
    SIM_Fatal("grid, fine_grid and duration must be positive");
  check_leaps(sc);
}
