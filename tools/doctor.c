/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  The doctor's command line and check sequence: parse options, run every
  check in a fixed order, print the report (text or JSON), optionally
  write the Prometheus file, and return the exit code for monitoring (0
  all OK, 1 WARN, 2 FAIL, 3 the doctor itself could not run, e.g. a bad
  option).
  */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "doctor.h"

#define EXIT_DOCTOR_ERROR 3
#define DEFAULT_SAMPLES 20
#define DEFAULT_TIMEOUT 8.0

static DOC_Report report;

/* ================================================== */

static void
run_checks(DOC_Context *ctx)
{
  DOC_CheckKvm(ctx);
  DOC_CheckPhc(ctx);
  DOC_CheckModule(ctx);
  DOC_CheckChronyConfig(ctx);
  DOC_CheckUpdate(ctx);
  DOC_CheckPhcRead(ctx);
  DOC_CheckClocksource(ctx);
  DOC_CheckSync(ctx);
  DOC_CheckStatus(ctx);
}

/* ================================================== */

static void
usage(FILE *f)
{
  fprintf(f,
          "Usage: ptpkvm-doctor [OPTION]...\n"
          "Diagnose the timekeeping of a KVM guest (ptp_kvm, clocksource, chrony).\n"
          "Read-only; runs unprivileged (says what it could not read).\n\n"
          "  -j, --json              print the report as JSON\n"
          "  -p, --prometheus FILE   also write a textfile-collector file (atomic rename)\n"
          "  -r, --root DIR          check the files of a tree (an image) instead of /: its\n"
          "                          configuration, units, packages; no devices\n"
          "  -f, --config FILE       chrony.conf to check (default: /etc/chrony/chrony.conf,\n"
          "                          else /etc/chrony.conf; under DIR with --root)\n"
          "  -n, --samples N         PHC readings for statistics (default %d, 0 = none)\n"
          "  -d, --chronyd PATH      chronyd asked about the configuration (default:\n"
          "                          /usr/sbin/chronyd, else chronyd in PATH; with --root\n"
          "                          a path in DIR, run in a chroot of DIR, as root only)\n"
          "  -c, --chronyc PATH      chronyc to ask (default: chronyc in PATH)\n"
          "  -C, --no-chronyc        do not run chronyc\n"
          "  -t, --timeout SEC       time limit for each helper program (default %g)\n"
          "  -q, --quiet             print nothing (exit code and --prometheus only)\n"
          "  -V, --version           print the version\n"
          "  -h, --help              this help\n\n"
          "Exit status: 0 all OK, 1 warnings, 2 failures, 3 the doctor could not run.\n",
          DEFAULT_SAMPLES, DEFAULT_TIMEOUT);
}

/* ================================================== */

int
main(int argc, char **argv)
{
  static const struct option longopts[] = {
    { "json", no_argument, NULL, 'j' },
    { "prometheus", required_argument, NULL, 'p' },
    { "root", required_argument, NULL, 'r' },
    { "config", required_argument, NULL, 'f' },
    { "samples", required_argument, NULL, 'n' },
    { "chronyd", required_argument, NULL, 'd' },
    { "chronyc", required_argument, NULL, 'c' },
    { "no-chronyc", no_argument, NULL, 'C' },
    { "timeout", required_argument, NULL, 't' },
    { "quiet", no_argument, NULL, 'q' },
    { "version", no_argument, NULL, 'V' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
  };
  static char root[4096];
  static DOC_Context ctx;
  const char *prom = NULL;
  int opt, json = 0, quiet = 0, err;
  struct stat st;
  char *end;
  size_t rl;

  ctx.chronyc = "chronyc";
  ctx.samples = DEFAULT_SAMPLES;
  ctx.timeout = DEFAULT_TIMEOUT;

  while ((opt = getopt_long(argc, argv, "jp:r:f:n:d:c:Ct:qVh", longopts, NULL)) != -1) {
    switch (opt) {
      case 'j':
        json = 1;
        break;
      case 'p':
        prom = optarg;
        break;
      case 'r':
        snprintf(root, sizeof (root), "%s", optarg);
        break;
      case 'f':
        ctx.config = optarg;
        break;
      case 'n':
        ctx.samples = strtol(optarg, &end, 10);
        if (*end || ctx.samples < 0 || ctx.samples > 1000) {
          fprintf(stderr, "ptpkvm-doctor: --samples wants 0..1000\n");
          return EXIT_DOCTOR_ERROR;
        }
        break;
      case 'd':
        ctx.chronyd = optarg;
        break;
      case 'c':
        ctx.chronyc = optarg;
        break;
      case 'C':
        ctx.chronyc = NULL;
        break;
      case 't':
        ctx.timeout = strtod(optarg, &end);
        if (*end || !(ctx.timeout > 0.0 && ctx.timeout <= 600.0)) {
          fprintf(stderr, "ptpkvm-doctor: --timeout wants seconds in (0, 600]\n");
          return EXIT_DOCTOR_ERROR;
        }
        break;
      case 'q':
        quiet = 1;
        break;
      case 'V':
        printf("ptpkvm-doctor %s\n", DOC_VERSION);
        return 0;
      case 'h':
        usage(stdout);
        return 0;
      default:
        usage(stderr);
        return EXIT_DOCTOR_ERROR;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "ptpkvm-doctor: unexpected argument '%s'\n", argv[optind]);
    return EXIT_DOCTOR_ERROR;
  }

  /* "/" and "" mean the running system; strip trailing slashes otherwise */
  rl = strlen(root);
  while (rl > 0 && root[rl - 1] == '/')
    root[--rl] = '\0';
  if (rl && (stat(root, &st) < 0 || !S_ISDIR(st.st_mode))) {
    fprintf(stderr, "ptpkvm-doctor: --root %s: not a directory\n", root);
    return EXIT_DOCTOR_ERROR;
  }
  ctx.root = root;
  ctx.report = &report;

  if (!ctx.chronyd)
    ctx.chronyd = rl || DOC_Exists(&ctx, "/usr/sbin/chronyd") ? "/usr/sbin/chronyd" : "chronyd";

  run_checks(&ctx);

  if (!quiet && json)
    DOC_PrintJson(&report, root, stdout);
  else if (!quiet)
    DOC_PrintText(&report, stdout);
  fflush(stdout);
  if (prom) {
    err = DOC_WritePrometheus(&report, prom);
    if (err < 0) {
      fprintf(stderr, "ptpkvm-doctor: cannot write %s: %s\n", prom, strerror(-err));
      return EXIT_DOCTOR_ERROR;
    }
  }
  return (int)DOC_OverallStatus(&report);
}
