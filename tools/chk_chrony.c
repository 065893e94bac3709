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
  char driver[16];
  char param[128];
  char options[128];            /* driver options after the device, "" if none */
  char where[160];              /* file:line */
} Refclock;

typedef struct {
  DOC_Context *ctx;
  int n_files;
  char files[MAX_FILES][160];
  int n_refclocks;
  Refclock refclocks[MAX_REFCLOCKS];
  int makestep;
  double makestep_threshold;
  int makestep_limit;
  char makestep_where[160];
  int ptpkvm;                   /* index of the PTPKVM refclock used, -1 if none */
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

static void
parse_line(ChronyConf *conf, char *line, const char *where, int depth)
{
  char *cmd, *args, *p;
  Refclock *rc;

  DOC_Trim(line);
  if (!line[0] || strchr("!;#%", line[0]))
    return;
  cmd = line;
  args = cmd + strcspn(cmd, " \t");
  if (*args)
    *args++ = '\0';
  DOC_Trim(args);

  if (!strcasecmp(cmd, "refclock") && conf->n_refclocks < MAX_REFCLOCKS) {
    rc = &conf->refclocks[conf->n_refclocks++];
    p = args + strcspn(args, " \t");
    snprintf(rc->driver, sizeof (rc->driver), "%.*s", (int)(p - args), args);
    p += strspn(p, " \t");
    snprintf(rc->param, sizeof (rc->param), "%.*s", (int)strcspn(p, " \t"), p);
    /* driver options follow the device after ':' */
    if ((p = strchr(rc->param, ':')) != NULL) {
      snprintf(rc->options, sizeof (rc->options), ":%s:", p + 1);
      *p = '\0';
    }
    snprintf(rc->where, sizeof (rc->where), "%s", where);
  } else if (!strcasecmp(cmd, "makestep")) {
    conf->makestep = 1;
    conf->makestep_threshold = 0.0;
    conf->makestep_limit = 0;
    if (sscanf(args, "%lf %d", &conf->makestep_threshold, &conf->makestep_limit) != 2)
      conf->makestep = -1;
    snprintf(conf->makestep_where, sizeof (conf->makestep_where), "%s", where);
  } else if (!strcasecmp(cmd, "user")) {
    snprintf(DOC_shared.chrony_user, sizeof (DOC_shared.chrony_user), "%s", args);
  } else if (!strcasecmp(cmd, "include")) {
    parse_include(conf, args, depth);
  } else if (!strcasecmp(cmd, "confdir")) {
    parse_confdir(conf, args, depth);
  }
}

/* ================================================== */

static void
parse_file(ChronyConf *conf, const char *path, int depth)
{
  static char bufs[MAX_DEPTH + 2][65536];
  char *buf, *line, *save = NULL, where[160];
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
    lineno++;
    snprintf(where, sizeof (where), "%s:%d", path, lineno);
    parse_line(conf, line, where, depth);
  }
}

/* ================================================== */
/* Which PHC does a device path lead to (following symlinks)?  name is its
   clock_name, "" if unknown */

static int
resolve_phc(DOC_Context *ctx, const char *param, char *dev, size_t dlen, char *name,
            size_t nlen)
{
  char cur[256], next[256], path[256];
  int i;

  snprintf(cur, sizeof (cur), "%s", param);
  for (i = 0; i < 8 && DOC_ResolveLink(ctx, cur, next, sizeof (next)) == 0; i++)
    snprintf(cur, sizeof (cur), "%s", next);
  if (!DOC_Exists(ctx, cur))
    return -1;
  snprintf(dev, dlen, "%s", cur);
  name[0] = '\0';
  if (!strncmp(cur, "/dev/ptp", 8)) {
    snprintf(path, sizeof (path), "/sys/class/ptp/%s/clock_name", cur + 5);
    DOC_ReadLine(ctx, path, name, nlen);
  }
  return 0;
}

/* ================================================== */

/* Value of a PTPKVM driver option (":name=value:"), NULL if absent */
static const char *
driver_option(const Refclock *rc, const char *name, char *buf, size_t len)
{
  char key[40];
  const char *p;

  snprintf(key, sizeof (key), ":%s=", name);
  p = strstr(rc->options, key);
  if (!p)
    return NULL;
  p += strlen(key);
  snprintf(buf, len, "%.*s", (int)strcspn(p, ":"), p);
  return buf;
}

/* ================================================== */
/* The clock_name a refclock line needs: PTPKVM's clockname= option ('_'
   stands for a space, as in the driver), else the KVM PHC's.  Returns 1 if
   it is another name than the KVM PHC's. */

static int
wanted_clock_name(const Refclock *rc, char *buf, size_t len)
{
  char *p;

  if (strcasecmp(rc->driver, "PTPKVM") || !driver_option(rc, "clockname", buf, len) ||
      !buf[0]) {
    snprintf(buf, len, "%s", PHCR_DEFAULT_CLOCK_NAME);
    return 0;
  }
  for (p = buf; *p; p++) {
    if (*p == '_')
      *p = ' ';
  }
  return strcmp(buf, PHCR_DEFAULT_CLOCK_NAME) != 0;
}

/* ================================================== */
/* Which PHC does 'refclock PTPKVM auto' take, like phc_reader: the first
   PHC with the wanted clock_name, else (for the KVM clock's name only)
   /dev/ptp_kvm unless it is known to be a PHC with another clock_name */

static int
resolve_auto(DOC_Context *ctx, const char *want, int custom, char *dev, size_t dlen,
             char *name, size_t nlen)
{
  const char *found = DOC_FindPhcByName(want);

  if (found) {
    snprintf(dev, dlen, "%s", found);
    snprintf(name, nlen, "%s", want);
    return 0;
  }
  if (custom || resolve_phc(ctx, PHCR_KVM_SYMLINK, dev, dlen, name, nlen) < 0)
    return -1;
  return name[0] && strcmp(name, want) ? -1 : 0;
}

/* ================================================== */
/* Check the device of one PHC or PTPKVM line; adds a FAIL result and
   returns -1 if it is missing or not the wanted clock */

static int
check_device(DOC_Context *ctx, const Refclock *rc, char *dev, size_t dlen, char *name,
             size_t nlen)
{
  char want[64], what[96], list[1024];
  int custom = wanted_clock_name(rc, want, sizeof (want));
  int is_auto = !strcasecmp(rc->driver, "PTPKVM") &&
                (!rc->param[0] || !strcmp(rc->param, PHCR_SPEC_AUTO));

  if (custom)
    snprintf(what, sizeof (what), "'%s' (clockname=)", want);
  else
    snprintf(what, sizeof (what), "the KVM PHC");

  if (is_auto) {
    if (resolve_auto(ctx, want, custom, dev, dlen, name, nlen) == 0)
      return 0;
    DOC_ListPhcs(list, sizeof (list));
    DOC_AddResult(ctx->report, "chrony.refclock", DOC_FAIL,
                  custom ? "set clockname= to the clock_name of the wanted PHC ('_' for a space)"
                         : "load ptp_kvm (see kernel.ptp_kvm and phc.devices)",
                  "%s: refclock PTPKVM %s finds no PHC with clock_name '%s' (PHCs: %s): "
                  "the source stays unreachable", rc->where, rc->param[0] ? rc->param : "auto",
                  want, list[0] ? list : "none");
    return -1;
  }

  if (resolve_phc(ctx, rc->param, dev, dlen, name, nlen) < 0) {
    DOC_AddResult(ctx->report, "chrony.refclock", DOC_FAIL,
                  "use 'refclock PTPKVM auto' (finds the device itself) or /dev/ptp_kvm",
                  "%s: refclock %s %s: device does not exist%s", rc->where, rc->driver,
                  rc->param, strcasecmp(rc->driver, "PHC") ? ""
                                                           : " (stock chronyd exits at start)");
    return -1;
  }
  if (strcmp(name, want)) {
    DOC_AddResult(ctx->report, "chrony.refclock", DOC_FAIL,
                  custom ? "point it at the PHC with that clock_name, or use 'refclock PTPKVM "
                           "auto' with clockname="
                         : "point it at /dev/ptp_kvm, or use 'refclock PTPKVM auto'",
                  "%s: refclock %s %s is %s with clock_name '%s', not %s",
                  rc->where, rc->driver, rc->param, dev, name[0] ? name : "?", what);
    return -1;
  }
  return 0;
}

/* ================================================== */

static void
check_refclocks(DOC_Context *ctx, ChronyConf *conf)
{
  char dev[256], name[64], found[DOC_TEXT_LEN] = "", kvm[DOC_TEXT_LEN] = "";
  char kvm_dev[64] = "", phc_dev[64] = "";
  int i, ptpkvm = -1, good_phc = -1;
  Refclock *rc;

  for (i = 0; i < conf->n_refclocks; i++) {
    rc = &conf->refclocks[i];
    if (strcasecmp(rc->driver, "PTPKVM") && strcasecmp(rc->driver, "PHC"))
      continue;
    if (check_device(ctx, rc, dev, sizeof (dev), name, sizeof (name)) < 0)
      return;
    if (!strcasecmp(rc->driver, "PTPKVM")) {
      if (ptpkvm < 0) {
        ptpkvm = i;
        snprintf(kvm, sizeof (kvm), "%s: refclock PTPKVM %s -> %s '%s'", rc->where,
                 rc->param[0] ? rc->param : "auto", dev, name[0] ? name : "?");
        snprintf(kvm_dev, sizeof (kvm_dev), "%s", dev);
      }
    } else if (good_phc < 0) {
      good_phc = i;
      snprintf(phc_dev, sizeof (phc_dev), "%s", dev);
      snprintf(found, sizeof (found), "%s: refclock PHC %s -> %s '%s'", rc->where, rc->param,
               dev, name);
    }
  }

  conf->ptpkvm = ptpkvm;
  snprintf(DOC_shared.refclock_dev, sizeof (DOC_shared.refclock_dev), "%s",
           ptpkvm >= 0 ? kvm_dev : phc_dev);
  if (ptpkvm >= 0) {
    DOC_shared.chrony_refclock = 2;
    DOC_AddResult(ctx->report, "chrony.refclock", DOC_OK, NULL, "%s", kvm);
  } else if (good_phc >= 0) {
    DOC_shared.chrony_refclock = 1;
    if (strcmp(conf->refclocks[good_phc].param, PHCR_KVM_SYMLINK) &&
        !strncmp(conf->refclocks[good_phc].param, "/dev/ptp", 8) &&
        isdigit((unsigned char)conf->refclocks[good_phc].param[8])) {
      DOC_AddResult(ctx->report, "chrony.refclock", DOC_WARN,
                    "use /dev/ptp_kvm or 'refclock PTPKVM auto': ptpN numbers can change at "
                    "boot when other PHCs appear", "%s (numbered device path)", found);
    } else {
      DOC_AddResult(ctx->report, "chrony.refclock", DOC_OK, NULL, "%s", found);
    }
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
  const Refclock *rc = &conf->refclocks[conf->ptpkvm];
  char val[32];

  if (driver_option(rc, "step", val, sizeof (val)) && atof(val) == 0.0) {
    snprintf(why, len, "%s: refclock PTPKVM step=0 never steps", rc->where);
    return 1;
  }
  if (driver_option(rc, "maxsteps", val, sizeof (val)) && atoi(val) >= 0) {
    snprintf(why, len, "%s: refclock PTPKVM maxsteps=%d stops stepping after %d step(s)",
             rc->where, atoi(val), atoi(val));
    return 1;
  }
  return 0;
}

static void
check_makestep(DOC_Context *ctx, ChronyConf *conf)
{
  char why[DOC_TEXT_LEN];

  if (conf->ptpkvm >= 0 && ptpkvm_steps_limited(conf, why, sizeof (why)) &&
      !(conf->makestep > 0 && conf->makestep_limit < 0)) {
    DOC_AddResult(ctx->report, "chrony.makestep", DOC_WARN,
                  "drop the step=0/maxsteps option unless stepping is forbidden here",
                  "%s: offsets after later VM pauses are slewed, which takes hours", why);
    return;
  }

  if (conf->makestep < 0) {
    DOC_AddResult(ctx->report, "chrony.makestep", DOC_WARN,
                  "write it as 'makestep THRESHOLD LIMIT', e.g. 'makestep 1 3'",
                  "%s: makestep line not understood", conf->makestep_where);
  } else if (!conf->makestep) {
    if (DOC_shared.chrony_refclock == 2)
      DOC_AddResult(ctx->report, "chrony.makestep", DOC_OK, NULL,
                    "no makestep; the PTPKVM driver steps by itself after confirmed jumps");
    else
      DOC_AddResult(ctx->report, "chrony.makestep", DOC_WARN,
                    "add 'makestep 1 3' (or use refclock PTPKVM, which steps after pauses)",
                    "no makestep: a clock minutes off at boot is slewed for hours "
                    "(at most 83 ms per second)");
  } else if (conf->makestep_limit > 0 && DOC_shared.chrony_refclock != 2) {
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

void
DOC_CheckChronyConfig(DOC_Context *ctx)
{
  static const char *candidates[] = { "/etc/chrony/chrony.conf", "/etc/chrony.conf" };
  static ChronyConf conf;
  unsigned int i;

  memset(&conf, 0, sizeof (conf));
  conf.ctx = ctx;
  conf.ptpkvm = -1;
  for (i = 0; i < sizeof (candidates) / sizeof (candidates[0]) && !conf.n_files; i++)
    parse_file(&conf, candidates[i], 0);

  if (!conf.n_files) {
    DOC_AddResult(ctx->report, "chrony.config", DOC_WARN,
                  "install chrony (apt-get install chrony / dnf install chrony)",
                  "no chrony.conf in /etc/chrony/ or /etc/");
    DOC_AddResult(ctx->report, "chrony.refclock", DOC_SKIP, NULL, "no chrony.conf");
    DOC_AddResult(ctx->report, "chrony.makestep", DOC_SKIP, NULL, "no chrony.conf");
    return;
  }
  DOC_AddResult(ctx->report, "chrony.config", DOC_OK, NULL, "%s (%d file(s) with includes)",
                conf.files[0], conf.n_files);
  check_refclocks(ctx, &conf);
  check_makestep(ctx, &conf);
}
