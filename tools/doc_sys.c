/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Read-only access to the inspected system ("/", or the tree of --root)
  and helper programs: every file a check reads goes through here.  Helper programs
  (chronyd, chronyc, apt-cache) run without a shell, stdin /dev/null,
  output and errors captured, killed at a time limit.
  */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "doctor.h"

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

int
DOC_ListDir(const DOC_Context *ctx, const char *path, DOC_DirCallback cb, void *arg)
{
  char full[4096];
  struct dirent *e;
  DIR *d;

  DOC_Path(ctx, path, full, sizeof (full));
  d = opendir(full);
  if (!d)
    return -errno;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && cb(e->d_name, arg))
      break;
  }
  closedir(d);
  return 0;
}

/* ================================================== */

int
DOC_HasWord(const char *text, const char *word)
{
  size_t wl = strlen(word);
  const char *p = text;

  while ((p = strstr(p, word)) != NULL) {
    if ((p == text || strchr(" \t\n", p[-1])) && (p[wl] == '\0' || strchr(" \t\n", p[wl])))
      return 1;
    p += wl;
  }
  return 0;
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
  static char bufs[4][PHCR_PATH_MAX];
  static int next;
  char *buf = bufs[next++ % 4];

  /* dh_compress gzips the larger pages */
  snprintf(buf, PHCR_PATH_MAX, "/usr/share/doc/chrony-ptpkvm/%s.gz", page);
  if (!DOC_Exists(ctx, buf))
    buf[strlen(buf) - 3] = '\0';
  if (!DOC_Exists(ctx, buf))
    snprintf(buf, PHCR_PATH_MAX, "docs/%s", page);
  return buf;
}

/* ================================================== */

static volatile sig_atomic_t timed_out;

static void
on_alarm(int sig)
{
  (void)sig;
  timed_out = 1;
}

/* Blocking reads until the child closes its output, interrupted by
   SIGALRM at the limit (whole seconds, rounded up) */
int
DOC_RunCommand(char *const argv[], char *out, size_t len, double timeout, int *status)
{
  struct sigaction sa = { .sa_handler = on_alarm }, old;
  int pipefd[2], wstatus = 0, null_fd;
  char discard[512];
  size_t used = 0;
  ssize_t n;
  pid_t pid;

  out[0] = '\0';
  if (pipe2(pipefd, O_CLOEXEC) < 0)
    return -errno;
  pid = fork();
  if (pid == 0) {
    null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, 0);
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    execvp(argv[0], argv);
    _exit(127);
  }
  close(pipefd[1]);
  if (pid < 0) {
    close(pipefd[0]);
    return -errno;
  }

  timed_out = 0;
  sigaction(SIGALRM, &sa, &old);
  alarm((unsigned int)ceil(timeout));
  while (!timed_out) {
    n = used + 1 < len ? read(pipefd[0], out + used, len - 1 - used)
                       : read(pipefd[0], discard, sizeof (discard));
    if (n <= 0 && !(n < 0 && errno == EINTR))
      break;
    used += n > 0 && used + 1 < len ? (size_t)n : 0;
  }
  alarm(0);
  sigaction(SIGALRM, &old, NULL);
  out[used] = '\0';
  close(pipefd[0]);
  if (timed_out)
    kill(pid, SIGKILL);
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
    ;
  if (timed_out)
    return -ETIMEDOUT;
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 127)
    return -ENOENT;
  *status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  return (int)used;
}
