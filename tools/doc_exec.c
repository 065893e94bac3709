/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Running a helper program (chronyd, chronyc, journalctl, apt-cache) with a
  time limit and capturing its output and errors.  No shell is involved:
  the argument vector is passed to execvp() as is, stdin is /dev/null, and
  the child is killed when the limit expires.
  */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "doctor.h"

static volatile sig_atomic_t timed_out;

/* ================================================== */

static void
on_alarm(int sig)
{
  (void)sig;
  timed_out = 1;
}

/* ================================================== */

static void
exec_child(int out_fd, char *const argv[])
{
  int null_fd = open("/dev/null", O_RDWR);

  if (null_fd >= 0)
    dup2(null_fd, 0);
  dup2(out_fd, 1);
  dup2(out_fd, 2);
  execvp(argv[0], argv);
  _exit(127);
}

/* ================================================== */
/* Blocking reads until the child closes its output, interrupted by
   SIGALRM at the limit (whole seconds, rounded up) */

int
DOC_RunCommand(char *const argv[], char *out, size_t len, double timeout, int *status)
{
  struct sigaction sa = { .sa_handler = on_alarm }, old;
  int pipefd[2], wstatus = 0;
  char discard[512];
  size_t used = 0;
  ssize_t n;
  pid_t pid;

  out[0] = '\0';
  if (pipe2(pipefd, O_CLOEXEC) < 0)
    return -errno;
  pid = fork();
  if (pid < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    return -errno;
  }
  if (pid == 0)
    exec_child(pipefd[1], argv);
  close(pipefd[1]);

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
