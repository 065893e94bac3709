/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Checks "chrony.config", "chrony.refclock" and "chrony.makestep": find
  chrony.conf (Debian /etc/chrony/chrony.conf, RHEL /etc/chrony.conf),
  follow its include and confdir directives like chronyd does, and judge
  the refclock lines (is the KVM PHC used, and is the device path really
  the KVM PHC rather than some NIC's /dev/ptp0?) and makestep (can a
  large offset, e.g. after a VM pause, be stepped away?).
  */

#include <ctype.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "doctor.h"
#include "phcr.h"

#define MAX_REFCLOCKS 8
#define MAX_FILES 32
#define MAX_DEPTH 8

typedef struct {
  DOC_Context *ctx;
  int n_files;
  char files[MAX_FILES][160];
  int n_refclocks;
  DOC_Refclock refclocks[MAX_REFCLOCKS];
  int makestep;
  double makestep_threshold;
  int makestep_limit;
  char makestep_where[160];
  int have_leap;                /* leapsectz or leapseclist */
  char refused[DOC_TEXT_LEN];   /* chronyd's first fatal error, "" if none */
  int ptpkvm;                   /* index of the first PTPKVM refclock, -1 if none */
} ChronyConf;

static void parse_file(ChronyConf *conf, const char *path, int depth);

/* ================================================== */

static void
parse_include(ChronyConf *conf, const char *pattern, int depth)
{
  char full[4096];
  size_t rl = strlen(conf->ctx->root);
  glob_t g;
  size_t i;

  DOC_Path(conf->ctx, pattern, full, sizeof (full));
  if (glob(full, 0, NULL, &g) != 0)
    return;
  for (i = 0; i < g.gl_pathc; i++)
    parse_file(conf, g.gl_pathv[i] + rl, depth + 1);
  globfree(&g);
}

/* confdir: *.conf of all directories, a name in an earlier directory hides later ones,
   files are read in alphabetical order of names */
typedef struct {
  char name[128];
  char path[256];
} ConfFile;

static int
compare_conf(const void *a, const void *b)
{
  return strcmp(((const ConfFile *)a)->name, ((const ConfFile *)b)->name);
}

static void
parse_confdir(ChronyConf *conf, char *dirs, int depth)
{
  static ConfFile files[MAX_DEPTH + 2][64];
  ConfFile *f = files[depth < MAX_DEPTH ? depth : MAX_DEPTH];
  char full[4096], *dir, *save = NULL, pattern[256];
  size_t rl = strlen(conf->ctx->root);
  int n = 0, i, dup;
  glob_t g;
  size_t k;

  for (dir = strtok_r(dirs, " \t", &save); dir; dir = strtok_r(NULL, " \t", &save)) {
    snprintf(pattern, sizeof (pattern), "%s/*.conf", dir);
    DOC_Path(conf->ctx, pattern, full, sizeof (full));
    if (glob(full, 0, NULL, &g) != 0)
      continue;
    for (k = 0; k < g.gl_pathc && n < 64; k++) {
      const char *base = strrchr(g.gl_pathv[k], '/') + 1;

      for (dup = 0, i = 0; i < n; i++)
        dup |= !strcmp(f[i].name, base);
      if (dup)
        continue;
      snprintf(f[n].name, sizeof (f[n].name), "%s", base);
      snprintf(f[n].path, sizeof (f[n].path), "%s", g.gl_pathv[k] + rl);
      n++;
    }
    globfree(&g);
  }
  qsort(f, n, sizeof (f[0]), compare_conf);
  for (i = 0; i < n; i++)
    parse_file(conf, f[i].path, depth + 1);
}

/* ================================================== */
/* chrony's CPS_NormalizeLine: one space between words, comment lines empty */

static void
normalize_line(char *line)
{
  int space = 1, first = 1;
  char *p, *q;

  for (p = q = line; *p; p++) {
    if (isspace((unsigned char)*p)) {
      if (!space)
        *q++ = ' ';
      space = 1;
      continue;
    }
    if (first && strchr("!;#%", *p))
      break;
    *q++ = *p;
    space = first = 0;
  }
  if (q > line && q[-1] == ' ')
    q--;
  *q = '\0';
}

/* ================================================== */
/* makestep as conf.c parses it (check_number_of_args, then sscanf) */

static void
parse_makestep(ChronyConf *conf, const char *cmd, const char *args, const char *file,
               int lineno, char *err, size_t len)
{
  int words = 0;
  const char *p;

  for (p = args; *p; p++)
    words += (p == args || p[-1] == ' ') && *p != ' ';
  snprintf(conf->makestep_where, sizeof (conf->makestep_where), "%s:%d", file, lineno);
  conf->makestep = 1;
  if (words != 2)
    snprintf(err, len, "%s arguments for %s directive at line %d in file %s",
             words < 2 ? "Missing" : "Too many", cmd, lineno, file);
  else if (sscanf(args, "%lf %d", &conf->makestep_threshold, &conf->makestep_limit) != 2)
    snprintf(err, len, "Could not parse %s directive at line %d in file %s", cmd, lineno, file);
}

/* ================================================== */

static void
parse_line(ChronyConf *conf, char *line, const char *file, int lineno, int depth)
{
  char *cmd, *args, err[DOC_TEXT_LEN] = "";
  DOC_Refclock rc;

  normalize_line(line);
  if (!line[0])
    return;
  cmd = line;
  args = cmd + strcspn(cmd, " ");
  if (*args)
    *args++ = '\0';

  if (!strcasecmp(cmd, "refclock")) {
    if (DOC_ParseRefclock(&rc, cmd, args, file, lineno, err, sizeof (err)) &&
        conf->n_refclocks < MAX_REFCLOCKS)
      conf->refclocks[conf->n_refclocks++] = rc;
  } else if (!strcasecmp(cmd, "makestep")) {
    parse_makestep(conf, cmd, args, file, lineno, err, sizeof (err));
  } else if (!strcasecmp(cmd, "leapsectz") || !strcasecmp(cmd, "leapseclist")) {
    conf->have_leap = 1;
  } else if (!strcasecmp(cmd, "user")) {
    snprintf(conf->ctx->chrony_user, sizeof (conf->ctx->chrony_user), "%s", args);
  } else if (!strcasecmp(cmd, "include")) {
    parse_include(conf, args, depth);
  } else if (!strcasecmp(cmd, "confdir")) {
    parse_confdir(conf, args, depth);
  }
  if (err[0] && !conf->refused[0])
    snprintf(conf->refused, sizeof (conf->refused), "%s", err);
}

/* ================================================== */

static void
parse_file(ChronyConf *conf, const char *path, int depth)
{
  static char bufs[MAX_DEPTH + 2][65536];
  char *buf, *line, *save = NULL;
  int lineno = 0;

  if (depth > MAX_DEPTH || conf->n_files >= MAX_FILES)
    return;
  buf = bufs[depth];
  if (DOC_ReadFile(conf->ctx, path, buf, sizeof (bufs[0])) < 0)
    return;
  snprintf(conf->files[conf->n_files++], sizeof (conf->files[0]), "%s", path);

  /* strtok_r would skip empty lines and miscount: split by hand */
  for (line = buf; line; line = save) {
    save = strchr(line, '\n');
    if (save)
      *save++ = '\0';
    parse_line(conf, line, path, ++lineno, depth);
  }
}

/* ================================================== */
/* Which device one PTPKVM or PHC line opens.  Adds a FAIL result and
   returns -1 if none or the wrong clock, returns 1 if this user cannot
   tell (no permission to open the device), 0 if it is the wanted clock */

static int
check_device(DOC_Context *ctx, const DOC_Refclock *rc, PHCR_Discovery *disc,
             char *unverified, size_t len)
{
  char want[PHCR_NAME_MAX];
  PHCR_Error err = DOC_FindRefclockDevice(ctx, rc, disc, want, sizeof (want));
  int custom = strcmp(want, PHCR_DEFAULT_CLOCK_NAME) != 0;

  if (err == PHCR_ERR_ACCESS) {
    if (!unverified[0])
      snprintf(unverified, len, "%s: refclock %s %s: %s", rc->where, rc->driver, rc->param,
               disc->error);
    return 1;
  }
  if (err != PHCR_OK) {
    /* PTPKVM only: chronyd refuses a PHC line whose device does not open */
    DOC_AddResult(ctx->report, "chrony.refclock", DOC_FAIL,
                  custom ? "set clockname= to the clock_name of the wanted PHC ('_' for a space)"
                         : "use 'refclock PTPKVM auto' with ptp_kvm loaded (see "
                           "kernel.ptp_kvm and phc.devices)",
                  "%s: refclock PTPKVM %s: %s: the source stays unreachable", rc->where,
                  rc->param, disc->error[0] ? disc->error : PHCR_ErrorString(err));
    return -1;
  }
  if (disc->clock_name[0] && strcmp(disc->clock_name, want)) {
    DOC_AddResult(ctx->report, "chrony.refclock", DOC_FAIL,
                  custom ? "point it at the PHC with that clock_name, or use 'refclock PTPKVM "
                           "auto' with clockname="
                         : "point it at /dev/ptp_kvm, or use 'refclock PTPKVM auto'",
                  "%s: refclock %s %s is %s with clock_name '%s', not '%s'", rc->where,
                  rc->driver, rc->param, disc->path, disc->clock_name, want);
    return -1;
  }
  return 0;
}

/* ================================================== */

static int
numbered_path(const char *param)
{
  return !strncmp(param, "/dev/ptp", 8) && isdigit((unsigned char)param[8]);
}

static void
check_refclocks(DOC_Context *ctx, ChronyConf *conf)
{
  char unverified[DOC_TEXT_LEN] = "";
  PHCR_Discovery d, disc, phc_disc;
  int i, res, kvm = -1, phc = -1;
  DOC_Refclock *rc;

  for (i = 0; i < conf->n_refclocks; i++) {
    rc = &conf->refclocks[i];
    if (rc->is_ptpkvm && conf->ptpkvm < 0) {
      conf->ptpkvm = i;
      ctx->chrony_refclock = 2;
    }
  }

  for (i = 0; i < conf->n_refclocks; i++) {
    rc = &conf->refclocks[i];
    if (!rc->is_ptpkvm && strcmp(rc->driver, "PHC"))
      continue;
    res = check_device(ctx, rc, &d, unverified, sizeof (unverified));
    if (res < 0)
      return;
    if (res == 0 && rc->is_ptpkvm && kvm < 0) {
      kvm = i;
      disc = d;
    } else if (res == 0 && !rc->is_ptpkvm && phc < 0) {
      phc = i;
      phc_disc = d;
    }
  }

  if (kvm >= 0) {
    rc = &conf->refclocks[kvm];
    snprintf(ctx->refclock_dev, sizeof (ctx->refclock_dev), "%s", disc.path);
    DOC_AddResult(ctx->report, "chrony.refclock", DOC_OK, NULL, "%s: refclock PTPKVM %s -> %s",
                  rc->where, rc->param, disc.why);
  } else if (phc >= 0 && !ctx->chrony_refclock) {
    rc = &conf->refclocks[phc];
    ctx->chrony_refclock = 1;
    snprintf(ctx->refclock_dev, sizeof (ctx->refclock_dev), "%s", phc_disc.path);
    if (numbered_path(rc->param))
      DOC_AddResult(ctx->report, "chrony.refclock", DOC_WARN,
                    "use /dev/ptp_kvm or 'refclock PTPKVM auto': ptpN numbers can change at "
                    "boot when other PHCs appear", "%s: refclock PHC %s -> %s (numbered device "
                    "path)", rc->where, rc->param, phc_disc.why);
    else
      DOC_AddResult(ctx->report, "chrony.refclock", DOC_OK, NULL, "%s: refclock PHC %s -> %s",
                    rc->where, rc->param, phc_disc.why);
  } else if (unverified[0]) {
    DOC_AddResult(ctx->report, "chrony.refclock", DOC_SKIP, NULL,
                  "cannot tell which device chronyd opens as uid %ld (run as root): %s",
                  (long)ctx->uid, unverified);
  } else {
    DOC_AddResult(ctx->report, "chrony.refclock", DOC_FAIL,
                  "add 'refclock PTPKVM auto' (see guest/chrony/ptpkvm.conf)",
                  "no refclock uses the KVM PHC (%d refclock line(s) in %d file(s))",
                  conf->n_refclocks, conf->n_files);
  }
}

/* ================================================== */

/* The PTPKVM driver steps after confirmed jumps unless step=0 or a maxsteps
   limit is set; returns 1 and describes the restriction if stepping is off or
   limited */
static int
ptpkvm_steps_limited(ChronyConf *conf, char *why, size_t len)
{
  const DOC_Refclock *rc = &conf->refclocks[conf->ptpkvm];

  if (rc->opts.step == 0.0) {
    snprintf(why, len, "%s: refclock PTPKVM step=0 never steps", rc->where);
    return 1;
  }
  if (rc->opts.maxsteps >= 0) {
    snprintf(why, len, "%s: refclock PTPKVM maxsteps=%d stops stepping after %d step(s)",
             rc->where, rc->opts.maxsteps, rc->opts.maxsteps);
    return 1;
  }
  return 0;
}

static void
check_makestep(DOC_Context *ctx, ChronyConf *conf)
{
  char why[DOC_TEXT_LEN];

  if (conf->ptpkvm >= 0 && ptpkvm_steps_limited(conf, why, sizeof (why)) &&
      !(conf->makestep && conf->makestep_limit < 0)) {
    DOC_AddResult(ctx->report, "chrony.makestep", DOC_WARN,
                  "drop the step=0/maxsteps option unless stepping is forbidden here",
                  "%s: offsets after later VM pauses are slewed, which takes hours", why);
  } else if (!conf->makestep) {
    if (ctx->chrony_refclock == 2)
      DOC_AddResult(ctx->report, "chrony.makestep", DOC_OK, NULL,
                    "no makestep; the PTPKVM driver steps by itself after confirmed jumps");
    else
      DOC_AddResult(ctx->report, "chrony.makestep", DOC_WARN,
                    "add 'makestep 1 3' (or use refclock PTPKVM, which steps after pauses)",
                    "no makestep: a clock minutes off at boot is slewed for hours "
                    "(at most 83 ms per second)");
  } else if (conf->makestep_limit > 0 && ctx->chrony_refclock != 2) {
    DOC_AddResult(ctx->report, "chrony.makestep", DOC_WARN,
                  "use refclock PTPKVM (steps after pauses), or 'makestep 1 -1' with care",
                  "%s: makestep %g %d steps only in the first %d updates: offsets after VM "
                  "pauses or crash dumps are slewed, which takes hours",
                  conf->makestep_where, conf->makestep_threshold, conf->makestep_limit,
                  conf->makestep_limit);
  } else {
    DOC_AddResult(ctx->report, "chrony.makestep", DOC_OK, NULL, "%s: makestep %g %d",
                  conf->makestep_where, conf->makestep_threshold, conf->makestep_limit);
  }
}

/* ================================================== */
/* What chronyd stops at when it adds the refclocks, after reading the whole
   configuration: the first refclock it cannot start */

static void
check_refclock_starts(DOC_Context *ctx, ChronyConf *conf)
{
  char err[DOC_TEXT_LEN];
  int i;

  for (i = 0; i < conf->n_refclocks && !conf->refused[0]; i++) {
    if (!DOC_CheckRefclockStart(ctx, &conf->refclocks[i], conf->have_leap, err, sizeof (err)))
      snprintf(conf->refused, sizeof (conf->refused), "%s: %s", conf->refclocks[i].where, err);
  }
}

/* ================================================== */

void
DOC_CheckChronyConfig(DOC_Context *ctx)
{
  static const char *candidates[] = { "/etc/chrony/chrony.conf", "/etc/chrony.conf" };
  static ChronyConf conf;
  unsigned int i;

  memset(&conf, 0, sizeof (conf));
  conf.ctx = ctx;
  conf.ptpkvm = -1;
  if (ctx->config)
    parse_file(&conf, ctx->config, 0);
  for (i = 0; i < sizeof (candidates) / sizeof (candidates[0]) && !conf.n_files &&
       !ctx->config; i++)
    parse_file(&conf, candidates[i], 0);

  if (!conf.n_files) {
    DOC_AddResult(ctx->report, "chrony.config", DOC_WARN,
                  "install chrony (apt-get install chrony / dnf install chrony)",
                  "no %s", ctx->config ? ctx->config : "chrony.conf in /etc/chrony/ or /etc/");
    DOC_AddResult(ctx->report, "chrony.refclock", DOC_SKIP, NULL, "no chrony.conf");
    DOC_AddResult(ctx->report, "chrony.makestep", DOC_SKIP, NULL, "no chrony.conf");
    return;
  }
  check_refclock_starts(ctx, &conf);
  if (conf.refused[0]) {
    DOC_AddResult(ctx->report, "chrony.config", DOC_FAIL,
                  "correct that line (chrony.conf(5); the PTPKVM options: docs/configuration.md)",
                  "chronyd refuses to start: %s", conf.refused);
    DOC_AddResult(ctx->report, "chrony.refclock", DOC_SKIP, NULL, "chronyd would not start");
    DOC_AddResult(ctx->report, "chrony.makestep", DOC_SKIP, NULL, "chronyd would not start");
    return;
  }
  DOC_AddResult(ctx->report, "chrony.config", DOC_OK, NULL, "%s (%d file(s) with includes)",
                conf.files[0], conf.n_files);
  check_refclocks(ctx, &conf);
  check_makestep(ctx, &conf);
}
