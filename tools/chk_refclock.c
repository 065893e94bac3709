/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  One refclock directive as chronyd takes it.  chrony cannot be linked, so
  its parsing of the generic options (conf.c parse_refclock, with
  CPS_SplitWord and the same sscanf formats) and the checks of
  RCL_AddRefclock and RCL_CheckDriverOptions (refclock.c, with patch 0004)
  are followed here with chronyd's error texts.  Everything that belongs to
  the PTPKVM driver is the driver's own code, compiled in: its option parser
  (PKP_ParseOptions, refclock_ptpkvm_policy.c), its device spec check
  (PHCR_CheckSpec) and its discovery (PHCR_FindDevice), which also tells
  whether the stock PHC driver can open its device.
  */

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "doctor.h"
#include "phcr.h"

#define NTP_MAX_STRATUM 16

typedef enum { ARG_NONE, ARG_INT, ARG_DOUBLE, ARG_REFID, ARG_STRATUM } ArgType;

/* The generic options of chrony 4.6.1's refclock directive */
static const struct {
  const char *name;
  ArgType arg;
} generic_options[] = {
  { "refid", ARG_REFID }, { "lock", ARG_REFID }, { "poll", ARG_INT }, { "dpoll", ARG_INT },
  { "filter", ARG_INT }, { "local", ARG_NONE }, { "rate", ARG_INT },
  { "minsamples", ARG_INT }, { "maxlockage", ARG_INT }, { "maxsamples", ARG_INT },
  { "offset", ARG_DOUBLE }, { "delay", ARG_DOUBLE }, { "pps", ARG_NONE },
  { "precision", ARG_DOUBLE }, { "maxdispersion", ARG_DOUBLE }, { "stratum", ARG_STRATUM },
  { "tai", ARG_NONE }, { "width", ARG_DOUBLE }, { "noselect", ARG_NONE },
  { "prefer", ARG_NONE }, { "require", ARG_NONE }, { "trust", ARG_NONE },
};

/* The drivers of chrony 4.6.1 and the options they accept (refclock_*.c);
   PTPKVM's come from the driver */
static const char *shm_options[] = { "perm", NULL };
static const char *sock_options[] = { NULL };
static const char *pps_options[] = { "clear", NULL };
static const char *phc_options[] = { "nocrossts", "extpps", "pin", "channel", "clear", NULL };

static const struct {
  const char *name;
  const char **options;
} drivers[] = {
  { "SHM", shm_options }, { "SOCK", sock_options }, { "PPS", pps_options },
  { "PHC", phc_options }, { "PTPKVM", NULL },
};

/* ================================================== */
/* chrony's CPS_SplitWord: terminate the word at line, return the next one */

static char *
split_word(char *line)
{
  char *p = line, *q = line;

  while (*q && isspace((unsigned char)*q))
    q++;
  while (*q && !isspace((unsigned char)*q))
    *p++ = *q++;
  while (*q && isspace((unsigned char)*q))
    q++;
  *p = '\0';
  return q;
}

/* ================================================== */
/* Length of the option's argument as chrony scans it, 0 if it cannot */

static int
scan_argument(ArgType arg, const char *line)
{
  int n = 0, i;
  double d;

  switch (arg) {
    case ARG_NONE:
      return 0;
    case ARG_INT:
      return sscanf(line, "%d%n", &i, &n) == 1 ? n : -1;
    case ARG_STRATUM:
      return sscanf(line, "%d%n", &i, &n) == 1 && i >= 0 && i < NTP_MAX_STRATUM ? n : -1;
    case ARG_DOUBLE:
      return sscanf(line, "%lf%n", &d, &n) == 1 ? n : -1;
    case ARG_REFID:
      for (i = 0; line[i] && !isspace((unsigned char)line[i]); i++) {
        if (i >= 4)
          return -1;
      }
      return i ? i : -1;
  }
  return -1;
}

/* ================================================== */

int
DOC_ParseRefclock(DOC_Refclock *rc, const char *cmd, char *line, const char *file, int lineno,
                  char *err, size_t len)
{
  char *word, *p;
  unsigned int i;
  int n;

  memset(rc, 0, sizeof (*rc));
  snprintf(rc->where, sizeof (rc->where), "%s:%d", file, lineno);

  p = line;
  line = split_word(line);
  snprintf(rc->driver, sizeof (rc->driver), "%s", p);
  if (*p && *line) {
    p = line;
    line = split_word(line);
    snprintf(rc->param, sizeof (rc->param), "%s", p);

    for (word = line; *word; line += n, word = line) {
      line = split_word(line);
      for (i = 0; i < sizeof (generic_options) / sizeof (generic_options[0]); i++) {
        if (!strcasecmp(word, generic_options[i].name))
          break;
      }
      if (i == sizeof (generic_options) / sizeof (generic_options[0])) {
        snprintf(err, len, "Invalid refclock option at line %d in file %s", lineno, file);
        return 0;
      }
      rc->tai |= !strcasecmp(word, "tai");
      n = scan_argument(generic_options[i].arg, line);
      if (n < 0)
        break;
    }
    if (!*word)
      return 1;
  }
  snprintf(err, len, "Could not parse %s directive at line %d in file %s", cmd, lineno, file);
  return 0;
}

/* ================================================== */
/* The driver options of a parameter, split at ':' like refclock.c does */

typedef struct {
  char buf[PHCR_PATH_MAX];
  size_t len;
} DriverOptions;

static void
split_options(DriverOptions *o, const char *param)
{
  size_t i;

  snprintf(o->buf, sizeof (o->buf), "%s", param);
  o->len = strlen(o->buf);
  for (i = 0; i < o->len; i++) {
    if (o->buf[i] == ':')
      o->buf[i] = '\0';
  }
}

static const char *
next_option(const DriverOptions *o, const char *option)
{
  option = (option ? option : o->buf) + strlen(option ? option : o->buf) + 1;
  return option < o->buf + o->len ? option : NULL;
}

/* RCL_GetDriverOption, the getter the driver gives PKP_ParseOptions */
static const char *
get_option(void *arg, const char *name)
{
  const DriverOptions *o = arg;
  size_t len = strlen(name);
  const char *option;

  for (option = next_option(o, NULL); option; option = next_option(o, option)) {
    if (!strncmp(name, option, len) && (option[len] == '=' || option[len] == '\0'))
      return option + len + (option[len] == '=');
  }
  return NULL;
}

/* RCL_CheckDriverOptions with the valid options (patch 0004) */
static int
check_option_names(const DriverOptions *o, const char **names, char *err, size_t len)
{
  char valid[256] = "";
  const char *option;
  size_t l;
  int i;

  for (option = next_option(o, NULL); option; option = next_option(o, option)) {
    for (i = 0; names[i]; i++) {
      l = strlen(names[i]);
      if (!strncmp(names[i], option, l) && (option[l] == '=' || option[l] == '\0'))
        break;
    }
    if (names[i])
      continue;
    for (i = 0; names[i]; i++)
      snprintf(valid + strlen(valid), sizeof (valid) - strlen(valid), "%s%s", i ? ", " : "",
               names[i]);
    snprintf(err, len, "Invalid refclock driver option %s (valid options: %s)", option,
             valid[0] ? valid : "none");
    return 0;
  }
  return 1;
}

/* ================================================== */

int
DOC_CheckRefclockStart(const DOC_Context *ctx, DOC_Refclock *rc, int have_leap, char *err,
                       size_t len)
{
  char msg[PHCR_ERRTEXT_MAX], want[PHCR_NAME_MAX];
  PHCR_Discovery disc;
  PHCR_Error res;
  DriverOptions o;
  unsigned int i;

  for (i = 0; i < sizeof (drivers) / sizeof (drivers[0]); i++) {
    if (!strcmp(rc->driver, drivers[i].name))
      break;
  }
  if (i == sizeof (drivers) / sizeof (drivers[0])) {
    snprintf(err, len, "unknown refclock driver %s", rc->driver);
    return 0;
  }
  if (rc->tai && !have_leap) {
    snprintf(err, len, "refclock tai option requires leapseclist or leapsectz");
    return 0;
  }

  /* the driver's initialisation, in its order */
  split_options(&o, rc->param);
  if (!check_option_names(&o, drivers[i].options ? drivers[i].options : PKP_OptionNames(),
                          err, len))
    return 0;
  if (!strcmp(rc->driver, "PHC")) {
    /* chronyd opens the path (as root) and asks PTP_CLOCK_GETCAPS */
    res = o.buf[0] == '/' ? DOC_FindRefclockDevice(ctx, rc, &disc, want, sizeof (want))
                          : PHCR_ERR_NODEVICE;
    if (res == PHCR_OK || res == PHCR_ERR_ACCESS)
      return 1;
    snprintf(err, len, "Could not open PHC (%s)", o.buf[0] == '/' ? disc.error : o.buf);
    return 0;
  }
  if (strcmp(rc->driver, "PTPKVM"))
    return 1;
  if (!PKP_ParseOptions(&rc->opts, get_option, &o, err, len))
    return 0;
  if (!PHCR_CheckSpec(o.buf, msg, sizeof (msg))) {
    snprintf(err, len, "refclock PTPKVM: %s", msg);
    return 0;
  }
  rc->is_ptpkvm = 1;
  return 1;
}

/* ================================================== */

PHCR_Error
DOC_FindRefclockDevice(const DOC_Context *ctx, const DOC_Refclock *rc, PHCR_Discovery *disc,
                       char *want, size_t len)
{
  PHCR_Env env = { ctx->ops, ctx->root };
  const char *name = rc->is_ptpkvm && rc->opts.clockname[0] ? rc->opts.clockname
                                                            : PHCR_DEFAULT_CLOCK_NAME;
  DriverOptions o;

  snprintf(want, len, "%s", name);
  split_options(&o, rc->param);
  return PHCR_FindDevice(&env, o.buf, name, disc);
}
