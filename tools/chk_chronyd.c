/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Checks "chrony.config", "chrony.driver", "chrony.refclock" and
  "chrony.makestep", asking the chronyd being diagnosed.  `chronyd -p -f
  FILE` parses the whole configuration (include, confdir) with that
  version's own parser and prints it, or exits with its own error; it
  runs with CAP_SYS_TIME dropped (setpriv), and with --root in a chroot of
  the inspected tree with the tree's own binary.  The refclock lines it
  prints are then judged as chronyd judges them when it starts them: the
  PTPKVM options by the driver's own parser (linked in), the device of
  each PTPKVM or PHC line by phc_reader's discovery.
  */

#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "doctor.h"
#include "phcr.h"
#include "refclock_ptpkvm.h"

#define MAX_REFCLOCKS 8
#define OUT_LEN 65536

typedef struct {
  char line[DOC_TEXT_LEN / 2];  /* as chronyd prints it */
  char driver[32];
  char param[PHCR_PATH_MAX];    /* device and driver options */
  int tai, optional;
  PKP_Options opts;             /* PTPKVM only */
} Refclock;

typedef struct {
  char conf[PHCR_PATH_MAX];
  char version[64];             /* of chronyd -v, "" if it did not answer */
  int has_ptpkvm;
  int n_refclocks;
  Refclock refclocks[MAX_REFCLOCKS];
  int have_leap, makestep, makestep_limit;
  double makestep_threshold;
} Chronyd;

/* ================================================== */
/* Run the chronyd of the inspected system with args (CAP_SYS_TIME dropped,
   chrooted with --root); its output and errors go to out */

static int
ask_chronyd(DOC_Context *ctx, const char *a1, const char *a2, const char *a3, char *out,
            size_t len, int *status)
{
  char *argv[12] = { "setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time", "--" };
  int n = 4;

  if (ctx->fixture) {
    argv[n++] = "chroot";
    argv[n++] = (char *)ctx->root;
  }
  argv[n++] = (char *)ctx->chronyd;
  argv[n++] = (char *)a1;
  argv[n++] = (char *)a2;
  argv[n++] = (char *)a3;
  return DOC_RunCommand(argv, out, len, ctx->timeout, status);
}

/* ================================================== */
/* Does the binary hold the driver's name as a string of its own? */

static int
binary_has(DOC_Context *ctx, const char *name)
{
  char path[4096], word[40];
  struct stat st;
  void *map;
  int fd, found = 0;

  DOC_Path(ctx, ctx->chronyd, path, sizeof (path));
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  if (fstat(fd, &st) == 0 && st.st_size > 0) {
    map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map != MAP_FAILED) {
      snprintf(word, sizeof (word), "%c%s", '\0', name);
      found = memmem(map, st.st_size, word, strlen(name) + 2) != NULL;
      munmap(map, st.st_size);
    }
  }
  close(fd);
  return found;
}

/* ================================================== */
/* One line of chronyd -p: the directives the later checks need */

static void
parse_line(DOC_Context *ctx, Chronyd *c, char *line)
{
  char *args = line + strcspn(line, " "), *w;
  Refclock *rc;

  if (*args)
    *args++ = '\0';
  if (!strcasecmp(line, "leapsectz") || !strcasecmp(line, "leapseclist")) {
    c->have_leap = 1;
  } else if (!strcasecmp(line, "user")) {
    snprintf(ctx->chrony_user, sizeof (ctx->chrony_user), "%s", args);
  } else if (!strcasecmp(line, "makestep")) {
    c->makestep = sscanf(args, "%lf %d", &c->makestep_threshold, &c->makestep_limit) == 2;
  } else if (!strcasecmp(line, "refclock") && c->n_refclocks < MAX_REFCLOCKS) {
    rc = &c->refclocks[c->n_refclocks++];
    memset(rc, 0, sizeof (*rc));
    snprintf(rc->line, sizeof (rc->line), "refclock %s", args);
    sscanf(args, "%31s %255s", rc->driver, rc->param);
    /* the generic flags chronyd acts on at start (a word, not an argument) */
    for (w = strtok(args, " "); w; w = strtok(NULL, " ")) {
      rc->tai |= !strcasecmp(w, "tai");
      rc->optional |= !strcasecmp(w, "optional");
      if (!strcasecmp(w, "refid") || !strcasecmp(w, "lock"))
        strtok(NULL, " ");
    }
  }
}

/* ================================================== */
/* The driver options of a parameter, split at ':' like chrony's refclock.c */

typedef struct {
  char buf[PHCR_PATH_MAX];
  size_t len;
} DriverOptions;

static const char *
next_option(const DriverOptions *o, const char *option)
{
  option = option ? option + strlen(option) + 1 : o->buf + strlen(o->buf) + 1;
  return option < o->buf + o->len ? option : NULL;
}

static int
option_is(const char *option, const char *name)
{
  size_t l = strlen(name);

  return !strncmp(option, name, l) && (option[l] == '=' || option[l] == '\0');
}

/* RCL_GetDriverOption, the getter the driver gives PKP_ParseOptions */
static const char *
get_option(void *arg, const char *name)
{
  const char *option;

  for (option = next_option(arg, NULL); option; option = next_option(arg, option)) {
    if (option_is(option, name))
      return option + strlen(name) + (option[strlen(name)] == '=');
  }
  return NULL;
}

/* The PTPKVM driver's initialisation, in its order: RCL_CheckDriverOptions
   with its option names, its option parser, its device spec check.  The one
   place the doctor calls the driver's parser. */
static int
check_ptpkvm_options(Refclock *rc, char *err, size_t len)
{
  const char **names = PKP_OptionNames(), *option;
  char msg[PHCR_ERRTEXT_MAX], valid[256] = "";
  DriverOptions o;
  size_t i;
  int k;

  snprintf(o.buf, sizeof (o.buf), "%s", rc->param);
  for (o.len = strlen(o.buf), i = 0; i < o.len; i++)
    o.buf[i] = o.buf[i] == ':' ? '\0' : o.buf[i];
  for (option = next_option(&o, NULL); option; option = next_option(&o, option)) {
    for (k = 0; names[k] && !option_is(option, names[k]); k++)
      ;
    if (names[k])
      continue;
    for (k = 0; names[k]; k++)
      snprintf(valid + strlen(valid), sizeof (valid) - strlen(valid), "%s%s", k ? ", " : "",
               names[k]);
    snprintf(err, len, "Invalid refclock driver option %s (valid options: %s)", option, valid);
    return 0;
  }
  if (!PKP_ParseOptions(&rc->opts, get_option, &o, err, len))
    return 0;
  if (!PHCR_CheckSpec(o.buf, msg, sizeof (msg))) {
    snprintf(err, len, "refclock PTPKVM: %s", msg);
    return 0;
  }
  return 1;
}

/* ================================================== */
/* Which device a PTPKVM or PHC line opens; want receives the clock_name it
   must have */

static PHCR_Error
find_device(DOC_Context *ctx, const Refclock *rc, PHCR_Discovery *disc, char *want,
            size_t len)
{
  char spec[PHCR_PATH_MAX];

  snprintf(want, len, "%s", rc->opts.clockname[0] ? rc->opts.clockname
                                                  : PHCR_DEFAULT_CLOCK_NAME);
  snprintf(spec, sizeof (spec), "%.*s", (int)strcspn(rc->param, ":"), rc->param);
  memset(disc, 0, sizeof (*disc));
  return PHCR_FindDevice(spec, want, disc);
}

/* ================================================== */
/* What chronyd stops at when it adds a refclock (after reading the whole
   configuration); chronyd's own message where it has one */

static int
check_start(DOC_Context *ctx, Chronyd *c, Refclock *rc, char *err, size_t len)
{
  PHCR_Discovery disc;
  char want[PHCR_NAME_MAX];
  PHCR_Error res;

  if (!strcmp(rc->driver, "PTPKVM") && !c->has_ptpkvm) {
    snprintf(err, len, "unknown refclock driver PTPKVM");
    return 0;
  }
  if (rc->tai && !c->have_leap) {
    snprintf(err, len, "refclock tai option requires leapseclist or leapsectz");
    return 0;
  }
  if (!strcmp(rc->driver, "PTPKVM"))
    return check_ptpkvm_options(rc, err, len);
  if (strcmp(rc->driver, "PHC") || rc->optional)
    return 1;
  /* the stock driver opens the path (as root) and stops if it cannot */
  res = rc->param[0] == '/' ? find_device(ctx, rc, &disc, want, sizeof (want))
                            : PHCR_ERR_NODEVICE;
  if (res == PHCR_OK || res == PHCR_ERR_ACCESS)
    return 1;
  snprintf(err, len, "Could not open PHC %s (%s)", rc->param,
           rc->param[0] == '/' ? disc.error : "not a path");
  return 0;
}

/* ================================================== */
/* Which device one PTPKVM or PHC line opens.  Adds a FAIL result and
   returns -1 if none or the wrong clock, returns 1 if this user cannot
   tell (no permission to open the device), 0 if it is the wanted clock */

static int
check_device(DOC_Context *ctx, const Refclock *rc, PHCR_Discovery *disc, char *unverified,
             size_t len)
{
  char want[PHCR_NAME_MAX];
  PHCR_Error err = find_device(ctx, rc, disc, want, sizeof (want));
  int custom = strcmp(want, PHCR_DEFAULT_CLOCK_NAME) != 0;

  if (err == PHCR_ERR_ACCESS) {
    if (!unverified[0])
      snprintf(unverified, len, "%s: %s", rc->line, disc->error);
    return 1;
  }
  if (err != PHCR_OK) {
    /* PTPKVM only: chronyd refuses a PHC line whose device does not open */
    DOC_AddResult(ctx->report, "chrony.refclock", DOC_FAIL,
                  custom ? "set clockname= to the clock_name of the wanted PHC ('_' for a space)"
                         : "use 'refclock PTPKVM auto' with ptp_kvm loaded (see "
                           "kernel.ptp_kvm and phc.devices)",
                  "%s: %s: the source stays unreachable", rc->line,
                  disc->error[0] ? disc->error : PHCR_ErrorString(err));
    return -1;
  }
  if (disc->clock_name[0] && strcmp(disc->clock_name, want)) {
    DOC_AddResult(ctx->report, "chrony.refclock", DOC_FAIL,
                  custom ? "point it at the PHC with that clock_name, or use 'refclock PTPKVM "
                           "auto' with clockname="
                         : "point it at /dev/ptp_kvm, or use 'refclock PTPKVM auto'",
                  "%s is %s with clock_name '%s', not '%s': not the host's clock", rc->line,
                  disc->path, disc->clock_name, want);
    snprintf(ctx->refclock_name, sizeof (ctx->refclock_name), "%s", disc->clock_name);
    return -1;
  }
  return 0;
}

/* ================================================== */

static void
check_refclocks(DOC_Context *ctx, Chronyd *c)
{
  char unverified[DOC_TEXT_LEN] = "";
  PHCR_Discovery disc[MAX_REFCLOCKS];
  int i, res, found = -1;
  Refclock *rc;

  for (i = 0; i < c->n_refclocks; i++) {
    rc = &c->refclocks[i];
    ctx->chrony_refclock = !strcmp(rc->driver, "PTPKVM") ? 2 : ctx->chrony_refclock;
    if (strcmp(rc->driver, "PTPKVM") && strcmp(rc->driver, "PHC"))
      continue;
    res = check_device(ctx, rc, &disc[i], unverified, sizeof (unverified));
    if (res < 0)
      return;
    /* the first PTPKVM line, else the first PHC line */
    if (res == 0 && (found < 0 || (!strcmp(rc->driver, "PTPKVM") &&
                                   strcmp(c->refclocks[found].driver, "PTPKVM"))))
      found = i;
  }
  if (found < 0) {
    if (unverified[0])
      DOC_AddResult(ctx->report, "chrony.refclock", DOC_SKIP, NULL,
                    "cannot tell which device chronyd opens as uid %ld (run as root): %s",
                    (long)ctx->uid, unverified);
    else
      DOC_AddResult(ctx->report, "chrony.refclock", DOC_FAIL,
                    "add 'refclock PTPKVM auto' (see guest/chrony/ptpkvm.conf)",
                    "no refclock uses the KVM PHC (%d refclock line(s))", c->n_refclocks);
    return;
  }
  rc = &c->refclocks[found];
  ctx->chrony_refclock = strcmp(rc->driver, "PTPKVM") ? 1 : 2;
  snprintf(ctx->refclock_dev, sizeof (ctx->refclock_dev), "%s", disc[found].path);
  if (ctx->chrony_refclock == 1 && !strncmp(rc->param, "/dev/ptp", 8) &&
      isdigit((unsigned char)rc->param[8]))
    DOC_AddResult(ctx->report, "chrony.refclock", DOC_WARN,
                  "use /dev/ptp_kvm or 'refclock PTPKVM auto': ptpN numbers can change at "
                  "boot when other PHCs appear", "%s -> %s (numbered device path)", rc->line,
                  disc[found].why);
  else
    DOC_AddResult(ctx->report, "chrony.refclock", DOC_OK, NULL, "%s -> %s", rc->line,
                  disc[found].why);
}

/* ================================================== */

static void
check_makestep(DOC_Context *ctx, Chronyd *c)
{
  const Refclock *rc = NULL;
  int i;

  for (i = 0; i < c->n_refclocks && !rc; i++)
    rc = !strcmp(c->refclocks[i].driver, "PTPKVM") ? &c->refclocks[i] : NULL;

  /* the PTPKVM driver steps after confirmed jumps unless step=0 or maxsteps */
  if (rc && (rc->opts.step == 0.0 || rc->opts.maxsteps >= 0) &&
      !(c->makestep && c->makestep_limit < 0))
    DOC_AddResult(ctx->report, "chrony.makestep", DOC_WARN,
                  "drop the step=0/maxsteps option unless stepping is forbidden here",
                  "%s %s: offsets after later VM pauses are slewed, which takes hours",
                  rc->line, rc->opts.step == 0.0 ? "never steps" : "stops stepping after "
                  "maxsteps steps");
  else if (!c->makestep && !rc)
    DOC_AddResult(ctx->report, "chrony.makestep", DOC_WARN,
                  "add 'makestep 1 3' (or use refclock PTPKVM, which steps after pauses)",
                  "no makestep: a clock minutes off at boot is slewed for hours "
                  "(at most 83 ms per second)");
  else if (c->makestep && c->makestep_limit > 0 && !rc)
    DOC_AddResult(ctx->report, "chrony.makestep", DOC_WARN,
                  "use refclock PTPKVM (steps after pauses), or 'makestep 1 -1' with care",
                  "makestep %g %d steps only in the first %d updates: offsets after VM "
                  "pauses or crash dumps are slewed, which takes hours",
                  c->makestep_threshold, c->makestep_limit, c->makestep_limit);
  else if (!c->makestep)
    DOC_AddResult(ctx->report, "chrony.makestep", DOC_OK, NULL,
                  "no makestep; the PTPKVM driver steps by itself after confirmed jumps");
  else
    DOC_AddResult(ctx->report, "chrony.makestep", DOC_OK, NULL, "makestep %g %d",
                  c->makestep_threshold, c->makestep_limit);
}

/* ================================================== */
/* chronyd -v: its version, and whether it has the PTPKVM driver (the
   feature flag, else the driver's name in the binary) */

static int
ask_version(DOC_Context *ctx, Chronyd *c, char *out, size_t len)
{
  int status = 0, n = ask_chronyd(ctx, "-v", NULL, NULL, out, len, &status);
  char *v = strstr(out, "version ");

  if (n < 0 || status || !v)
    return n < 0 ? n : -EINVAL;
  sscanf(v + 8, "%63s", c->version);
  c->has_ptpkvm = strstr(out, "+PTPKVM") || binary_has(ctx, "PTPKVM");
  return 0;
}

/* The driver, and the verdict ptpkvm-refclock wrote as the first line of
   VERDICT_FILE before chronyd's last start */

#define VERDICT_FILE "/run/chrony/ptpkvm.conf"
#define VERDICT_TAG "# chrony-ptpkvm: "

static void
report_driver(DOC_Context *ctx, Chronyd *c)
{
  char v[DOC_TEXT_LEN] = "";
  const char *verdict;

  if (DOC_ReadLine(ctx, VERDICT_FILE, v, sizeof (v)) < 0 || strncmp(v, VERDICT_TAG,
                                                                   strlen(VERDICT_TAG)))
    v[0] = '\0';
  verdict = v + (v[0] ? strlen(VERDICT_TAG) : 0);
  if (c->has_ptpkvm && strstr(verdict, "NOT USED")) {
    DOC_AddResult(ctx->report, "chrony.driver", DOC_WARN, "systemctl restart chrony",
                  "%s (chrony %s) has the PTPKVM driver, but at chronyd's last start %s said: %s",
                  ctx->chronyd, c->version, VERDICT_FILE, verdict);
  } else if (c->has_ptpkvm) {
    DOC_AddResult(ctx->report, "chrony.driver", DOC_OK, NULL,
                  "%s (chrony %s) has the PTPKVM driver%s%s", ctx->chronyd, c->version,
                  v[0] ? "; " VERDICT_FILE ": " : "", verdict);
  } else if (strstr(verdict, "NOT USED")) {
    DOC_AddResult(ctx->report, "chrony.driver", DOC_FAIL, DOC_REBUILD, "%s (%s)", verdict,
                  VERDICT_FILE);
  } else {
    DOC_AddResult(ctx->report, "chrony.driver", DOC_FAIL, "bring chrony-ptpkvm's chrony back: "
                  DOC_REBUILD,
                  "refclock PTPKVM NOT USED: %s (chrony %s) has no PTPKVM driver; a chronyd "
                  "without it (e.g. the distribution's, after an upgrade) replaced "
                  "chrony-ptpkvm's, and a 'refclock PTPKVM' line stops it at start",
                  ctx->chronyd, c->version);
  }
}

/* ================================================== */

void
DOC_CheckChronyConfig(DOC_Context *ctx)
{
  static const char *candidates[] = { "/etc/chrony/chrony.conf", "/etc/chrony.conf" };
  static char out[OUT_LEN];
  static Chronyd c;
  char err[DOC_TEXT_LEN] = "", fix[DOC_TEXT_LEN], *line, *save = NULL, *fatal;
  const char *skip = NULL;
  int i, n, status = 0;

  memset(&c, 0, sizeof (c));
  snprintf(c.conf, sizeof (c.conf), "%s", ctx->config ? ctx->config : candidates[0]);
  if (!ctx->config && !DOC_Exists(ctx, c.conf))
    snprintf(c.conf, sizeof (c.conf), "%s", candidates[1]);

  if (!DOC_Exists(ctx, c.conf)) {
    DOC_AddResult(ctx->report, "chrony.config", DOC_WARN,
                  "install chrony (apt-get install chrony / dnf install chrony)", "no %s",
                  ctx->config ? ctx->config : "chrony.conf in /etc/chrony/ or /etc/");
    skip = "no chrony.conf";
  } else if (ctx->fixture && ctx->uid != 0) {
    DOC_AddResult(ctx->report, "chrony.config", DOC_SKIP, NULL,
                  "cannot ask chronyd under --root as non-root (it runs in a chroot)");
    skip = "chronyd not asked";
  } else if ((n = ask_version(ctx, &c, out, sizeof (out))) < 0) {
    DOC_AddResult(ctx->report, "chrony.config", DOC_WARN,
                  "install chrony, or name its chronyd with --chronyd PATH",
                  "cannot run %s%s: %s", ctx->fixture ? ctx->root : "", ctx->chronyd,
                  n == -EINVAL ? out : strerror(-n));
    skip = "chronyd not asked";
  }
  if (skip) {
    DOC_AddResult(ctx->report, "chrony.driver", DOC_SKIP, NULL, "%s", skip);
    DOC_AddResult(ctx->report, "chrony.refclock", DOC_SKIP, NULL, "%s", skip);
    DOC_AddResult(ctx->report, "chrony.makestep", DOC_SKIP, NULL, "%s", skip);
    return;
  }

  n = ask_chronyd(ctx, "-p", "-f", c.conf, out, sizeof (out), &status);
  if (n < 0)
    snprintf(err, sizeof (err), "%s -p: %s", ctx->chronyd, strerror(-n));
  for (line = strtok_r(out, "\n", &save); n >= 0 && line; line = strtok_r(NULL, "\n", &save)) {
    fatal = strstr(line, "Fatal error");
    if (fatal && !err[0])
      snprintf(err, sizeof (err), "%s", fatal);
    else if (!fatal)
      parse_line(ctx, &c, line);
  }
  if (!err[0] && status)
    snprintf(err, sizeof (err), "%s -p exited with status %d", ctx->chronyd, status);
  for (i = 0; i < c.n_refclocks && !err[0]; i++) {
    if (!check_start(ctx, &c, &c.refclocks[i], err, sizeof (err)))
      snprintf(err + strlen(err), sizeof (err) - strlen(err), " (%s)", c.refclocks[i].line);
  }

  if (err[0]) {
    snprintf(fix, sizeof (fix), "correct that line (chrony.conf(5); the PTPKVM options: %s)",
             DOC_DocPath(ctx, "configuration.md"));
    DOC_AddResult(ctx->report, "chrony.config", DOC_FAIL, fix, "chronyd %s refuses %s: %s",
                  c.version, c.conf, err);
    report_driver(ctx, &c);
    DOC_AddResult(ctx->report, "chrony.refclock", DOC_SKIP, NULL, "chronyd would not start");
    DOC_AddResult(ctx->report, "chrony.makestep", DOC_SKIP, NULL, "chronyd would not start");
    return;
  }
  DOC_AddResult(ctx->report, "chrony.config", DOC_OK, NULL, "chronyd %s accepts %s",
                c.version, c.conf);
  report_driver(ctx, &c);
  check_refclocks(ctx, &c);
  check_makestep(ctx, &c);
}
