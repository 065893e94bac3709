/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  The doctor's frame: parse options, run every check in a fixed order,
  collect one result per check, print them as text or JSON (schema in
  docs/troubleshooting.md, the details of ptpkvm.status in
  docs/monitoring.md), optionally write a Prometheus textfile-collector
  file (replaced atomically: temporary file in the same directory, fsync,
  rename), and return the exit code for monitoring (0 all OK, 1 WARN, 2
  FAIL, 3 the doctor itself could not run, e.g. a bad option).  The
  checks read the inspected system ("/", or the tree of --root) through
  the file helpers here, and run helper programs (chronyd, chronyc,
  apt-cache) without a shell, stdin /dev/null, output and errors
  captured, killed at a time limit.
  */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "doctor.h"

#define EXIT_DOCTOR_ERROR 3
#define DEFAULT_SAMPLES 20

/* ================================================== */

DOC_Result *
DOC_AddResult(DOC_Context *ctx, const char *id, DOC_Status status, const char *fix,
              const char *fmt, ...)
{
  DOC_Result *r;
  va_list ap;

  if (ctx->n_results >= DOC_MAX_RESULTS)
    return &ctx->results[DOC_MAX_RESULTS - 1];

  r = &ctx->results[ctx->n_results++];
  memset(r, 0, sizeof (*r));
  snprintf(r->id, sizeof (r->id), "%s", id);
  r->status = status;
  snprintf(r->fix, sizeof (r->fix), "%s", fix && status != DOC_OK ? fix : "");
  va_start(ap, fmt);
  vsnprintf(r->message, sizeof (r->message), fmt, ap);
  va_end(ap);
  return r;
}

/* ================================================== */

static const char *status_names[] = { "OK", "WARN", "FAIL", "SKIP" };

static DOC_Status
overall_status(const DOC_Context *ctx)
{
  DOC_Status worst = DOC_OK;
  int i;

  for (i = 0; i < ctx->n_results; i++) {
    if (ctx->results[i].status != DOC_SKIP && ctx->results[i].status > worst)
      worst = ctx->results[i].status;
  }
  return worst;
}

/* ================================================== */

static void
print_text(const DOC_Context *ctx, FILE *f)
{
  const DOC_Result *r;
  int i, counts[4] = { 0, 0, 0, 0 };

  for (i = 0; i < ctx->n_results; i++) {
    r = &ctx->results[i];
    counts[r->status]++;
    fprintf(f, "[%-4s] %-20s %s\n", status_names[r->status], r->id, r->message);
    if (r->fix[0])
      fprintf(f, "       %-20s fix: %s\n", "", r->fix);
  }
  fprintf(f, "summary: %s (%d OK, %d WARN, %d FAIL, %d SKIP)\n",
          status_names[overall_status(ctx)], counts[DOC_OK], counts[DOC_WARN],
          counts[DOC_FAIL], counts[DOC_SKIP]);
}

/* ================================================== */

void
DOC_JsonString(FILE *f, const char *s)
{
  const unsigned char *p;

  fputc('"', f);
  for (p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p < 0x20 || *p == 0x7f)
      fprintf(f, "\\u%04x", *p);
    else
      fputc(*p, f);
  }
  fputc('"', f);
}

static void
print_json(const DOC_Context *ctx, FILE *f)
{
  const DOC_Result *r;
  int i;

  fprintf(f, "{\n  \"tool\": \"ptpkvm-doctor\",\n  \"schema\": %d,\n  \"root\": ",
          DOC_SCHEMA_VERSION);
  DOC_JsonString(f, ctx->root[0] ? ctx->root : "/");
  fprintf(f, ",\n  \"uid\": %ld,\n  \"status\": \"%s\",\n  \"exit_code\": %d,\n  \"checks\": [",
          (long)getuid(), status_names[overall_status(ctx)],
          (int)overall_status(ctx));
  for (i = 0; i < ctx->n_results; i++) {
    r = &ctx->results[i];
    fprintf(f, "%s\n    {\"id\": \"%s\", \"status\": \"%s\", \"message\": ", i ? "," : "",
            r->id, status_names[r->status]);
    DOC_JsonString(f, r->message);
    fprintf(f, ", \"fix\": ");
    DOC_JsonString(f, r->fix);
    fprintf(f, "%s%s}", r->details_json ? ", \"details\": " : "",
            r->details_json ? r->details_json : "");
  }
  fprintf(f, "\n  ]\n}\n");
}

/* ================================================== */

static int
write_prometheus(const DOC_Context *ctx, const char *path)
{
  char tmp[4096];
  int i, err = 0;
  FILE *f;

  if (snprintf(tmp, sizeof (tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof (tmp))
    return -ENAMETOOLONG;
  f = fopen(tmp, "we");
  if (!f)
    return -errno;
  fprintf(f, "# TYPE ptpkvm_doctor_status gauge\nptpkvm_doctor_status %d\n"
          "# TYPE ptpkvm_doctor_check_status gauge\n", (int)overall_status(ctx));
  for (i = 0; i < ctx->n_results; i++)
    fprintf(f, "ptpkvm_doctor_check_status{check=\"%s\"} %d\n", ctx->results[i].id,
            (int)ctx->results[i].status);
  for (i = 0; i < ctx->n_results; i++)
    fputs(ctx->results[i].prometheus ? ctx->results[i].prometheus : "", f);
  if (fflush(f) || ferror(f) || fsync(fileno(f)) < 0)
    err = errno ? errno : EIO;
  if (fclose(f) && !err)
    err = errno;
  if (!err && rename(tmp, path) < 0)
    err = errno;
  if (err)
    unlink(tmp);
  return -err;
}

/* ================================================== */

void
DOC_Path(const DOC_Context *ctx, const char *path, char *buf, size_t len)
{
  snprintf(buf, len, "%s%s", ctx->root, path);
}

/* ================================================== */

ssize_t
DOC_ReadFile(const DOC_Context *ctx, const char *path, char *buf, size_t len)
{
  char full[4096];
  ssize_t ret;
  size_t n;
  FILE *f;

  buf[0] = '\0';
  DOC_Path(ctx, path, full, sizeof (full));
  f = fopen(full, "re");
  if (!f)
    return -errno;
  n = fread(buf, 1, len - 1, f);
  buf[n] = '\0';
  ret = ferror(f) ? -EIO : (ssize_t)n;
  fclose(f);
  return ret;
}

/* ================================================== */

int
DOC_ReadLine(const DOC_Context *ctx, const char *path, char *buf, size_t len)
{
  ssize_t n = DOC_ReadFile(ctx, path, buf, len);

  if (n < 0)
    return (int)n;
  buf[strcspn(buf, "\n")] = '\0';
  DOC_Trim(buf);
  return 0;
}

/* ================================================== */

int
DOC_Exists(const DOC_Context *ctx, const char *path)
{
  char full[4096];
  struct stat st;

  DOC_Path(ctx, path, full, sizeof (full));
  return lstat(full, &st) == 0;
}

/* ================================================== */

char *
DOC_Trim(char *s)
{
  size_t n = strlen(s);
  char *p = s + strspn(s, " \t");

  while (n > 0 && strchr(" \t\r\n", s[n - 1]))
    s[--n] = '\0';
  memmove(s, p, strlen(p) + 1);
  return s;
}

/* ================================================== */

const char *
DOC_DocPath(const DOC_Context *ctx, const char *page)
{
  static char buf[PHCR_PATH_MAX];

  /* dh_compress gzips the larger pages */
  snprintf(buf, sizeof (buf), "/usr/share/doc/chrony-ptpkvm/%s.gz", page);
  if (!DOC_Exists(ctx, buf))
    buf[strlen(buf) - 3] = '\0';
  return buf;
}

/* ================================================== */
/* Under coreutils' timeout, which ends the program's whole process group
   at the limit and exits 124, or a second later KILLs the group, itself
   included */
int
DOC_RunCommand(char *const argv[], char *out, size_t len, int *status)
{
  char discard[512], *args[16] = { "timeout", "-k", "1", "8" };
  int i, pipefd[2], wstatus = 0;
  size_t used = 0;
  ssize_t n;
  pid_t pid;

  for (i = 0; argv[i] && i < 11; i++)
    args[4 + i] = argv[i];
  out[0] = '\0';
  if (pipe2(pipefd, O_CLOEXEC) < 0)
    return -errno;
  pid = fork();
  if (pid == 0) {
    dup2(open("/dev/null", O_RDONLY), 0);
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    execvp(args[0], args);
    _exit(127);
  }
  close(pipefd[1]);
  if (pid < 0) {
    close(pipefd[0]);
    return -errno;
  }
  for (;;) {
    n = used + 1 < len ? read(pipefd[0], out + used, len - 1 - used)
                       : read(pipefd[0], discard, sizeof (discard));
    if (n <= 0 && !(n < 0 && errno == EINTR))
      break;
    used += n > 0 && used + 1 < len ? (size_t)n : 0;
  }
  out[used] = '\0';
  close(pipefd[0]);
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
    ;
  *status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  if (*status == 124 || *status == 128 + SIGKILL)
    return -ETIMEDOUT;
  return *status == 127 ? -ENOENT : (int)used;
}

/* ================================================== */

/* In this order (a check uses what the earlier ones found); with --root,
   those of the running system's devices and kernel are skipped */

static void
run_checks(DOC_Context *ctx)
{
  static const struct {
    void (*check)(DOC_Context *ctx);
    const char *live_id;        /* the check's id if it needs the running system */
  } checks[] = {
    { DOC_CheckKvm, "kvm.guest" },
    { DOC_CheckPhc, "phc.devices" },
    { DOC_CheckModule, NULL },
    { DOC_CheckChronyConfig, NULL },
    { DOC_CheckUpdate, NULL },
    { DOC_CheckPhcRead, "phc.read" },
    { DOC_CheckClocksource, "clocksource.current" },
    { DOC_CheckSync, "chrony.sync" },
    { DOC_CheckStatus, NULL },
  };
  unsigned int i;

  for (i = 0; i < sizeof (checks) / sizeof (checks[0]); i++) {
    if (ctx->root[0] && checks[i].live_id)
      DOC_AddResult(ctx, checks[i].live_id, DOC_SKIP, NULL, DOC_ROOT_SKIP);
    else
      checks[i].check(ctx);
  }
}

/* ================================================== */

static void
usage(FILE *f)
{
  fprintf(f,
          "Usage: ptpkvm-doctor [OPTION]...\n"
          "Diagnose the timekeeping of a KVM guest (ptp_kvm, clocksource, chrony).\n\n"
          "  -j, --json              print the report as JSON\n"
          "  -p, --prometheus FILE   also write a textfile-collector file\n"
          "  -r, --root DIR          check the files of a tree (an image), no devices\n"
          "  -f, --config FILE       chrony.conf to check\n"
          "  -n, --samples N         PHC readings for statistics (default %d)\n"
          "  -d, --chronyd PATH      chronyd asked about the configuration\n"
          "  -c, --chronyc PATH      chronyc to ask\n"
          "  -C, --no-chronyc        do not run chronyc\n"
          "  -q, --quiet             print nothing\n"
          "  -h, --help              this help\n\n"
          "Exit status: 0 all OK, 1 warnings, 2 failures, 3 the doctor could not run.\n"
          "See ptpkvm-doctor(8).\n",
          DEFAULT_SAMPLES);
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
    { "quiet", no_argument, NULL, 'q' },
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

  while ((opt = getopt_long(argc, argv, "jp:r:f:n:d:c:Cqh", longopts, NULL)) != -1) {
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
      case 'q':
        quiet = 1;
        break;
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

  if (!ctx.chronyd)
    ctx.chronyd = rl || DOC_Exists(&ctx, "/usr/sbin/chronyd") ? "/usr/sbin/chronyd" : "chronyd";

  run_checks(&ctx);

  if (!quiet && json)
    print_json(&ctx, stdout);
  else if (!quiet)
    print_text(&ctx, stdout);
  fflush(stdout);
  if (prom) {
    err = write_prometheus(&ctx, prom);
    if (err < 0) {
      fprintf(stderr, "ptpkvm-doctor: cannot write %s: %s\n", prom, strerror(-err));
      return EXIT_DOCTOR_ERROR;
    }
  }
  return (int)overall_status(&ctx);
}
