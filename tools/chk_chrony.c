/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  The chrony checks.  "chrony.config", "chrony.driver", "chrony.refclock"
  ask the chronyd being diagnosed: `chronyd -p -f FILE` parses the whole
  configuration (include, confdir) with that version's own parser and
  prints it, or exits with its own error; it runs with CAP_SYS_TIME
  dropped (setpriv), and with --root in a chroot of the inspected tree
  with the tree's own binary.  The refclock lines it prints are then
  judged as chronyd judges them when it starts them: the PTPKVM options
  by the driver's own parser (linked in), the device of each PTPKVM or
  PHC line by phc_reader's discovery.  "chrony.update": does the
  distribution offer a newer chrony than the one chrony-ptpkvm's chrony
  is built on (the next upgrade replaces it by one without the driver)?
  "chrony.sync": is the running chronyd synchronised, to what, and how
  far the clock still has to go (`chronyc -n -c tracking`).
  */

#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "doctor.h"
#include "refclock_ptpkvm.h"

#define MAX_REFCLOCKS 8
#define OUT_LEN 65536
#define OUR_SUFFIX "+ptpkvm"
#define N_FIELDS 14
#define LOCAL_REFID 0x7F7F0101UL

typedef struct {
  char line[DOC_TEXT_LEN / 2];  /* as chronyd prints it */
  char driver[32];
  char param[PHCR_PATH_MAX];    /* device and driver options */
  int tai, optional;
  PKP_Options opts;             /* PTPKVM only */
} Refclock;

typedef struct {
  char version[64];             /* of chronyd -v, "" if it did not answer */
  int has_ptpkvm;
  int n_refclocks;
  Refclock refclocks[MAX_REFCLOCKS];
  int have_leap;
  char pidfile[PHCR_PATH_MAX];
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

  if (ctx->root[0]) {
    argv[n++] = "chroot";
    argv[n++] = (char *)ctx->root;
  }
  argv[n++] = (char *)ctx->chronyd;
  argv[n++] = (char *)a1;
  argv[n++] = (char *)a2;
  argv[n++] = (char *)a3;
  return DOC_RunCommand(argv, out, len, status);
}

/* ================================================== */
/* One line of chronyd -p: the directives the later checks need */

static void
parse_line(Chronyd *c, char *line)
{
  char *args = line + strcspn(line, " "), *w;
  Refclock *rc;

  if (*args)
    *args++ = '\0';
  if (!strcasecmp(line, "leapsectz") || !strcasecmp(line, "leapseclist")) {
    c->have_leap = 1;
  } else if (!strcasecmp(line, "pidfile")) {
    snprintf(c->pidfile, sizeof (c->pidfile), "%s", args);
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

#define MAX_OPTIONS 16

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
  char **option;

  for (option = arg; *option; option++) {
    if (option_is(*option, name))
      return *option + strlen(name) + ((*option)[strlen(name)] == '=');
  }
  return NULL;
}

/* The PTPKVM driver's initialisation, in its order: RCL_CheckDriverOptions
   with its option names, its option parser, its device spec check.  The one
   place the doctor calls the driver's parser. */
static int
check_ptpkvm_options(Refclock *rc, char *err, size_t len)
{
  const char **names = PKP_OptionNames();
  char buf[PHCR_PATH_MAX], *options[MAX_OPTIONS + 1] = { NULL }, msg[PHCR_ERRTEXT_MAX];
  char valid[256] = "", *p = buf;
  int i, k;

  snprintf(buf, sizeof (buf), "%s", rc->param);
  /* an option starts before the end: "auto:" has none, "auto::x" an empty one */
  for (i = 0; i < MAX_OPTIONS && (p = strchr(p, ':')) != NULL; ) {
    *p++ = '\0';
    if (*p)
      options[i++] = p;
  }
  for (k = 0; names[k]; k++)
    snprintf(valid + strlen(valid), sizeof (valid) - strlen(valid), "%s%s", k ? ", " : "",
             names[k]);
  for (i = 0; options[i]; i++) {
    for (k = 0; names[k] && !option_is(options[i], names[k]); k++)
      ;
    if (!names[k]) {
      snprintf(err, len, "Invalid refclock driver option %s (valid options: %s)", options[i],
               valid);
      return 0;
    }
  }
  if (!PKP_ParseOptions(&rc->opts, get_option, options, err, len))
    return 0;
  if (!PHCR_CheckSpec(buf, msg, sizeof (msg))) {
    snprintf(err, len, "refclock PTPKVM: %s", msg);
    return 0;
  }
  return 1;
}

/* ================================================== */
/* Which device a PTPKVM or PHC line opens; want receives the clock_name it
   must have */

static PHCR_Error
find_device(const Refclock *rc, PHCR_Discovery *disc, char *want, size_t len)
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
  if (strcmp(rc->driver, "PHC") || rc->optional || ctx->root[0])
    return 1;
  /* the stock driver opens the path (as root) and stops if it cannot */
  res = rc->param[0] == '/' ? find_device(rc, &disc, want, sizeof (want))
                            : PHCR_ERR_NODEVICE;
  if (res == PHCR_OK || res == PHCR_ERR_ACCESS)
    return 1;
  snprintf(err, len, "Could not open PHC %s (%s)", rc->param,
           rc->param[0] == '/' ? disc.error : "not a path");
  return 0;
}

/* ================================================== */
/* Which device the refclock the KVM PHC is meant for opens: the first
   PTPKVM line, else the first PHC line */

static const Refclock *
find_line(const Chronyd *c, const char *driver)
{
  int i;

  for (i = 0; i < c->n_refclocks; i++) {
    if (!strcmp(c->refclocks[i].driver, driver))
      return &c->refclocks[i];
  }
  return NULL;
}

static void
check_refclocks(DOC_Context *ctx, Chronyd *c)
{
  const Refclock *rc = find_line(c, "PTPKVM") ? find_line(c, "PTPKVM") : find_line(c, "PHC");
  const char *id = "chrony.refclock";
  char want[PHCR_NAME_MAX];
  PHCR_Discovery disc;
  PHCR_Error err;
  int custom;

  ctx->has_refclock = rc != NULL;
  if (!rc) {
    DOC_AddResult(ctx, id, DOC_FAIL, "add 'refclock PTPKVM auto' (see "
                  "/etc/chrony/ptpkvm.conf)", "no refclock uses the KVM PHC (%d refclock "
                  "line(s))", c->n_refclocks);
    return;
  }
  if (ctx->root[0]) {
    DOC_AddResult(ctx, id, DOC_SKIP, NULL, "%s: device " DOC_ROOT_SKIP, rc->line);
    return;
  }
  err = find_device(rc, &disc, want, sizeof (want));
  custom = strcmp(want, PHCR_DEFAULT_CLOCK_NAME) != 0;
  if (err == PHCR_OK && disc.clock_name[0] && strcmp(disc.clock_name, want))
    snprintf(ctx->refclock_name, sizeof (ctx->refclock_name), "%s", disc.clock_name);
  if (err == PHCR_ERR_ACCESS)
    DOC_AddResult(ctx, id, DOC_SKIP, NULL, "cannot tell which device chronyd opens as "
                  "uid %ld (run as root): %s: %s", (long)getuid(), rc->line, disc.error);
  else if (err != PHCR_OK)
    DOC_AddResult(ctx, id, DOC_FAIL,
                  custom ? "set clockname= to the clock_name of the wanted PHC ('_' for a space)"
                         : "use 'refclock PTPKVM auto' with ptp_kvm loaded (see "
                           "kernel.ptp_kvm and phc.devices)",
                  "%s: %s: the source stays unreachable", rc->line,
                  disc.error[0] ? disc.error : PHCR_ErrorString(err));
  else if (ctx->refclock_name[0])
    DOC_AddResult(ctx, id, DOC_FAIL,
                  custom ? "point it at the PHC with that clock_name, or use 'refclock PTPKVM "
                           "auto' with clockname="
                         : "point it at /dev/ptp_kvm, or use 'refclock PTPKVM auto'",
                  "%s is %s with clock_name '%s', not '%s': not the host's clock", rc->line,
                  disc.path, disc.clock_name, want);
  else if (!strcmp(rc->driver, "PHC") && !strncmp(rc->param, "/dev/ptp", 8) &&
           isdigit((unsigned char)rc->param[8]))
    DOC_AddResult(ctx, id, DOC_WARN,
                  "use /dev/ptp_kvm or 'refclock PTPKVM auto': ptpN numbers can change at "
                  "boot when other PHCs appear", "%s -> %s (numbered device path)", rc->line,
                  disc.why);
  else
    DOC_AddResult(ctx, id, DOC_OK, NULL, "%s -> %s", rc->line, disc.why);
}

/* ================================================== */
/* chronyd -v: its version, and whether it has the PTPKVM driver */

static int
ask_version(DOC_Context *ctx, Chronyd *c, char *out, size_t len)
{
  int status = 0, n = ask_chronyd(ctx, "-v", NULL, NULL, out, len, &status);
  char *v = strstr(out, "version ");

  if (n < 0 || status || !v)
    return n < 0 ? n : -EINVAL;
  sscanf(v + 8, "%63s", c->version);
  c->has_ptpkvm = strstr(out, "+PTPKVM") != NULL;
  return 0;
}

/* The driver, and the verdict ptpkvm-refclock wrote as the first line of
   VERDICT_FILE before chronyd's last start */

#define VERDICT_FILE "/run/chrony/ptpkvm.conf"
#define VERDICT_TAG "# chrony-ptpkvm: "

/* The running chronyd (of its pidfile) if its binary was replaced on disk
   since it started (an upgrade without a restart): it runs other code than
   the chronyd asked */
static int
replaced_chronyd(DOC_Context *ctx, Chronyd *c, char *buf, size_t len)
{
  char line[32], path[64], exe[PHCR_PATH_MAX] = "";

  if (ctx->root[0] || DOC_ReadLine(ctx, c->pidfile[0] ? c->pidfile : "/run/chrony/chronyd.pid",
                                   line, sizeof (line)) < 0)
    return 0;
  snprintf(path, sizeof (path), "/proc/%ld/exe", atol(line));
  if (readlink(path, exe, sizeof (exe) - 1) < 0 || !strstr(exe, " (deleted)"))
    return 0;
  snprintf(buf, len, ", but the running chronyd (pid %ld) is a binary since replaced on disk",
           atol(line));
  return 1;
}

static void
report_driver(DOC_Context *ctx, Chronyd *c)
{
  char v[DOC_TEXT_LEN] = "", replaced[128] = "";
  const char *verdict;
  int stale = replaced_chronyd(ctx, c, replaced, sizeof (replaced));

  if (DOC_ReadLine(ctx, VERDICT_FILE, v, sizeof (v)) < 0 || strncmp(v, VERDICT_TAG,
                                                                   strlen(VERDICT_TAG)))
    v[0] = '\0';
  verdict = v + (v[0] ? strlen(VERDICT_TAG) : 0);
  if (c->has_ptpkvm) {
    DOC_AddResult(ctx, "chrony.driver", stale || strstr(verdict, "NOT USED") ? DOC_WARN : DOC_OK,
                  "systemctl restart chrony", "%s (chrony %s) has the PTPKVM driver%s%s%s",
                  ctx->chronyd, c->version, replaced, v[0] ? "; " VERDICT_FILE ": " : "",
                  verdict);
  } else {
    DOC_AddResult(ctx, "chrony.driver", DOC_FAIL, "bring chrony-ptpkvm's chrony back: "
                  DOC_REBUILD, "refclock PTPKVM NOT USED: %s (chrony %s) has no PTPKVM driver; "
                  "a chronyd without it (e.g. the distribution's, after an upgrade) replaced "
                  "chrony-ptpkvm's%s%s", ctx->chronyd, c->version,
                  v[0] ? "; " VERDICT_FILE ": " : "", verdict);
  }
}

/* ================================================== */

void
DOC_CheckChronyConfig(DOC_Context *ctx)
{
  static char out[OUT_LEN];
  static Chronyd c;
  char err[DOC_TEXT_LEN] = "", fix[DOC_TEXT_LEN], *line, *save = NULL, *fatal;
  const char *skip = NULL, *conf = ctx->config ? ctx->config :
                     DOC_Exists(ctx, "/etc/chrony/chrony.conf") ? "/etc/chrony/chrony.conf" :
                     "/etc/chrony.conf";
  int i, n, status = 0;

  memset(&c, 0, sizeof (c));
  if (!DOC_Exists(ctx, conf)) {
    DOC_AddResult(ctx, "chrony.config", DOC_WARN,
                  "install chrony (apt-get install chrony / dnf install chrony)", "no %s",
                  ctx->config ? ctx->config : "chrony.conf in /etc/chrony/ or /etc/");
    skip = "no chrony.conf";
  } else if (ctx->root[0] && getuid() != 0) {
    DOC_AddResult(ctx, "chrony.config", DOC_SKIP, NULL,
                  "cannot ask chronyd under --root as non-root (it runs in a chroot)");
    skip = "chronyd not asked";
  } else if ((n = ask_version(ctx, &c, out, sizeof (out))) < 0) {
    DOC_AddResult(ctx, "chrony.config", DOC_WARN,
                  "install chrony, or name its chronyd with --chronyd PATH",
                  "cannot run %s%s: %s", ctx->root, ctx->chronyd,
                  n == -EINVAL ? out : strerror(-n));
    skip = "chronyd not asked";
  }
  if (skip) {
    DOC_AddResult(ctx, "chrony.driver", DOC_SKIP, NULL, "%s", skip);
    DOC_AddResult(ctx, "chrony.refclock", DOC_SKIP, NULL, "%s", skip);
    return;
  }

  n = ask_chronyd(ctx, "-p", "-f", conf, out, sizeof (out), &status);
  if (n < 0)
    snprintf(err, sizeof (err), "%s -p: %s", ctx->chronyd, strerror(-n));
  for (line = strtok_r(out, "\n", &save); n >= 0 && line; line = strtok_r(NULL, "\n", &save)) {
    fatal = strstr(line, "Fatal error");
    if (fatal && !err[0])
      snprintf(err, sizeof (err), "%s", fatal);
    else if (!fatal)
      parse_line(&c, line);
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
    DOC_AddResult(ctx, "chrony.config", DOC_FAIL, fix, "chronyd %s refuses %s: %s",
                  c.version, conf, err);
    report_driver(ctx, &c);
    DOC_AddResult(ctx, "chrony.refclock", DOC_SKIP, NULL, "chronyd would not start");
    return;
  }
  DOC_AddResult(ctx, "chrony.config", DOC_OK, NULL, "chronyd %s accepts %s", c.version, conf);
  report_driver(ctx, &c);
  check_refclocks(ctx, &c);
}

/* ================================================== */

static int
newer(const char *a, const char *b)
{
  char *argv[] = { "dpkg", "--compare-versions", (char *)a, "gt", (char *)b, NULL }, out[256];
  int status = 1;

  return DOC_RunCommand(argv, out, sizeof (out), &status) >= 0 && status == 0;
}

/* ================================================== */
/* Our chrony's version is the distribution's with "+ptpkvmN" appended and
   chrony-ptpkvm depends on it exactly.  Read-only: `apt-cache policy
   chrony` (apt's lists as they are, the inspected tree's with --root) and
   `dpkg --compare-versions`. */

void
DOC_CheckUpdate(DOC_Context *ctx)
{
  static char out[16384];
  char dir[4200], *argv[] = { "apt-cache", "-o", dir, "policy", "chrony", NULL };
  char installed[128] = "", base[128], best[128] = "", v[128], *line, *save = NULL, *p;
  int n, status = 0;

  snprintf(dir, sizeof (dir), "Dir=%s/", ctx->root);
  n = DOC_RunCommand(argv, out, sizeof (out), &status);
  for (line = strtok_r(n >= 0 ? out : "", "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    /* "  Installed: V", then the version table: " *** V PRIO" or "     V PRIO" */
    if ((p = strstr(line, "Installed: ")) != NULL)
      sscanf(p + 11, "%127s", installed);
    else if ((!strncmp(line, " *** ", 5) || !strncmp(line, "     ", 5)) && line[5] != ' ' &&
             sscanf(line + 5, "%127s", v) == 1 && !strstr(v, OUR_SUFFIX) &&
             (!best[0] || newer(v, best)))
      snprintf(best, sizeof (best), "%s", v);
  }
  p = strstr(installed, OUR_SUFFIX);
  if (n < 0 || status || !installed[0] || !strcmp(installed, "(none)") || !p) {
    DOC_AddResult(ctx, "chrony.update", DOC_SKIP, NULL,
                  "installed chrony: %s, not chrony-ptpkvm's package (apt-cache policy chrony)",
                  installed[0] ? installed : "(none)");
    return;
  }
  snprintf(base, sizeof (base), "%.*s", (int)(p - installed), installed);
  if (best[0] && newer(best, base))
    DOC_AddResult(ctx, "chrony.update", DOC_WARN,
                  DOC_REBUILD " (it builds on the newest chrony apt offers)",
                  "the distribution offers chrony %s, newer than %s that chrony %s is built on: "
                  "the next apt upgrade installs it, without the PTPKVM driver", best,
                  base, installed);
  else
    DOC_AddResult(ctx, "chrony.update", DOC_OK, NULL,
                  "chrony %s is built on the newest chrony apt knows (%s)", installed, base);
}

/* ================================================== */

void
DOC_CheckSync(DOC_Context *ctx)
{
  char out[4096], *argv[] = { (char *)ctx->chronyc, "-n", "-c", "tracking", NULL };
  char *fields[N_FIELDS + 1], fix[DOC_TEXT_LEN], *p = out;
  const char *id = "chrony.sync";
  int n, status = 0, is_ip;
  double correction;

  if (!ctx->chronyc) {
    DOC_AddResult(ctx, id, DOC_SKIP, NULL, "not asked (--no-chronyc)");
    return;
  }
  n = DOC_RunCommand(argv, out, sizeof (out), &status);
  out[strcspn(out, "\n")] = '\0';
  if (n < 0 || status != 0) {
    DOC_AddResult(ctx, id, DOC_WARN, n == -ENOENT ? "install chrony (provides chronyc)"
                  : "is chronyd running? systemctl status chrony (RHEL: chronyd)",
                  "%s could not ask chronyd (%s)", ctx->chronyc, n < 0 ? strerror(-n) : out);
    return;
  }
  for (n = 0; n <= N_FIELDS && p; n++) {
    fields[n] = p;
    if ((p = strchr(p, ',')) != NULL)
      *p++ = '\0';
  }
  if (n != N_FIELDS) {
    DOC_AddResult(ctx, id, DOC_WARN, "check that chronyc matches chronyd's version",
                  "unexpected chronyc tracking output");
    return;
  }

  correction = atof(fields[4]);
  is_ip = strchr(fields[1], '.') || strchr(fields[1], ':');
  snprintf(fix, sizeof (fix), "chronyc sources -v; see %s",
           DOC_DocPath(ctx, "troubleshooting.md"));
  if (!strcmp(fields[13], "Not synchronised") || !strtoul(fields[0], NULL, 16))
    DOC_AddResult(ctx, id, DOC_FAIL, fix,
                  "chronyd is not synchronised (leap status '%s')", fields[13]);
  else if (strtoul(fields[0], NULL, 16) == LOCAL_REFID)
    DOC_AddResult(ctx, id, DOC_WARN,
                  "the local reference is a fallback: check the refclock with chronyc sources -v",
                  "synchronised to the local clock only (stratum %s)", fields[2]);
  else if (is_ip && ctx->has_refclock)
    DOC_AddResult(ctx, id, DOC_WARN, "chronyc sources -v: why is the refclock not selected?",
                  "synchronised to NTP server %s, not to the KVM PHC refclock", fields[1]);
  else if (!is_ip && ctx->refclock_name[0])
    DOC_AddResult(ctx, id, DOC_WARN,
                  "point the refclock at the KVM PHC (see chrony.refclock)",
                  "synchronised to refclock %s, a PHC with clock_name '%s': not the host's "
                  "clock (chronyd warns \"not the expected clock name\")", fields[1],
                  ctx->refclock_name);
  else if (fabs(correction) > 1e-3)
    DOC_AddResult(ctx, id, DOC_WARN, "wait, or step once with chronyc makestep if it is large",
                  "synchronised to %s, but the clock is still %+.6f s from it (slewing)",
                  fields[1], correction);
  else
    DOC_AddResult(ctx, id, DOC_OK, NULL,
                  "synchronised to %s (stratum %s), offset %+.9f s, RMS offset %s s, "
                  "frequency %s ppm", fields[1], fields[2], correction, fields[6], fields[7]);
}
